import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { errors } from '../errors.js';

// Images and attachments uploaded in the compose form are stored on disk under a name made of
// their SHA-256, and served publicly under /media so emails and social posts can link to them.
// The type is read from the file's first bytes, never from its name or the browser's claim;
// only raster images and PDF are accepted (no SVG or HTML, which could carry script).

interface Kind {
  ext: string;
  type: string;
  image: boolean;
  test: (b: Buffer) => boolean;
}

const KINDS: Kind[] = [
  { ext: 'jpg', type: 'image/jpeg', image: true, test: (b) => b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff },
  { ext: 'png', type: 'image/png', image: true, test: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) },
  { ext: 'gif', type: 'image/gif', image: true, test: (b) => /^GIF8[79]a/.test(b.subarray(0, 6).toString('latin1')) },
  {
    ext: 'webp',
    type: 'image/webp',
    image: true,
    test: (b) => b.subarray(0, 4).toString('latin1') === 'RIFF' && b.subarray(8, 12).toString('latin1') === 'WEBP',
  },
  { ext: 'pdf', type: 'application/pdf', image: false, test: (b) => b.subarray(0, 5).toString('latin1') === '%PDF-' },
];
const BY_EXT = new Map(KINDS.map((k) => [k.ext, k]));
const NAME_RE = /^([a-f0-9]{64})\.(jpg|png|gif|webp|pdf)$/;

export interface StoredUpload {
  url: string;
  mediaType: string;
  bytes: number;
}

export class UploadStore {
  readonly dir: string;

  constructor(
    dir: string,
    private readonly publicUrl: string,
    readonly maxBytes: number,
  ) {
    this.dir = resolve(dir);
  }

  /** Stores the file (once per content) and returns its public URL. `field` names the form field in errors. */
  async save(data: Buffer, field: string, want: 'image' | 'attachment'): Promise<StoredUpload> {
    if (data.length === 0) throw errors.UPLOAD_INVALID(`${field}: the file is empty`);
    if (data.length > this.maxBytes) throw errors.UPLOAD_TOO_LARGE(`${field}: larger than ${this.maxBytes} bytes`);
    const kind = KINDS.find((k) => k.test(data));
    if (!kind) throw errors.UPLOAD_INVALID(`${field}: only JPEG, PNG, GIF or WebP images${want === 'attachment' ? ' and PDF documents' : ''} are accepted`);
    if (want === 'image' && !kind.image) throw errors.UPLOAD_INVALID(`${field}: must be a JPEG, PNG, GIF or WebP image, not ${kind.type}`);
    const name = `${createHash('sha256').update(data).digest('hex')}.${kind.ext}`;
    await mkdir(this.dir, { recursive: true });
    // Same content, same name: a second upload of one file changes nothing.
    await writeFile(join(this.dir, name), data, { flag: 'wx' }).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
    return { url: `${this.publicUrl.replace(/\/+$/, '')}/media/${name}`, mediaType: kind.type, bytes: data.length };
  }

  /** GET /media/:name, public: only names this store could have written are looked at. */
  registerRoute(app: FastifyInstance): void {
    app.get<{ Params: { name: string } }>('/media/:name', { config: { public: true } }, async (request, reply) => {
      const match = NAME_RE.exec(request.params.name);
      const path = match ? join(this.dir, request.params.name) : '';
      const info = path ? await stat(path).catch(() => null) : null;
      if (!match || !info?.isFile()) return reply.code(404).send({ statusCode: 404, code: 'TOCSIN_ERR_NOT_FOUND', error: 'No such file' });
      const kind = BY_EXT.get(match[2])!;
      return (
        reply
          .type(kind.type)
          .header('content-length', info.size)
          // Raster images stay inline: emails, posts and the alert page show them, their type was
          // read from their bytes, and with nosniff a browser only ever draws them. Anything else
          // (PDF: its viewer runs script) is downloaded, never opened on this origin.
          .header('content-disposition', kind.image ? 'inline' : `attachment; filename="${request.params.name}"`)
          .header('x-content-type-options', 'nosniff')
          // Should a browser still open one as a page: no script, no access to this origin.
          .header('content-security-policy', "default-src 'none'; img-src 'self'; sandbox")
          .header('cache-control', 'public, max-age=31536000, immutable')
          .send(createReadStream(path))
      );
    });
  }
}
