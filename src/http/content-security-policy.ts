// The console's Content-Security-Policy, in one place, so every staff page (the console and Bull
// Board) gets the same rules: nothing by default, scripts only the console's own, no framing by
// anyone (frame-ancestors 'none' covers clickjacking), forms and connections to this origin only.

export interface PolicyOptions {
  /** The console's pages carry a per-response nonce; Bull Board's prebuilt page loads its own static scripts instead. */
  scripts: { nonce: string } | 'self';
  /** Bull Board's page sets <base href> to its own path; the console sets none. */
  base?: "'none'" | "'self'";
}

export function staffPagePolicy({ scripts, base = "'none'" }: PolicyOptions): string {
  return [
    "default-src 'none'",
    `script-src ${scripts === 'self' ? "'self'" : `'nonce-${scripts.nonce}'`}`,
    // Inline styles are allowed (the email preview needs them).
    "style-src 'self' 'unsafe-inline' https:",
    "img-src 'self' https: http: data:",
    'font-src https: data:',
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    `base-uri ${base}`,
  ].join('; ');
}
