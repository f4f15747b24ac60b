// The type of a file read from its first bytes (magic numbers), never from a Content-Type header
// or a file name, which whoever serves the file chooses. Only the types Tocsin passes on exist.

export const SNIFFED_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp', 'application/pdf'] as const;
export type SniffedType = (typeof SNIFFED_TYPES)[number];

export const IMAGE_TYPES: readonly SniffedType[] = ['image/jpeg', 'image/png', 'image/gif', 'image/webp'];

/** Bytes needed to tell every type apart (WebP's "WEBP" ends at byte 12). */
export const SNIFF_BYTES = 12;

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function sniffType(bytes: Buffer): SniffedType | undefined {
  if (bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG)) return 'image/png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'image/jpeg';
  if (bytes.length >= 6 && /^GIF8[79]a$/.test(bytes.subarray(0, 6).toString('latin1'))) return 'image/gif';
  if (bytes.length >= 12 && bytes.subarray(0, 4).toString('latin1') === 'RIFF' && bytes.subarray(8, 12).toString('latin1') === 'WEBP') return 'image/webp';
  if (bytes.length >= 5 && bytes.subarray(0, 5).toString('latin1') === '%PDF-') return 'application/pdf';
  return undefined;
}
