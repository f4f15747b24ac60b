import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createFakeApp, hang, listen, misbehave, Script } from './server.js';

// A fake Bluesky PDS speaking the XRPC methods Tocsin uses, with their lexicon shapes:
//   com.atproto.server.createSession / getSession / refreshSession
//   com.atproto.repo.uploadBlob (raw bytes) -> {blob: {$type:'blob', ref:{$link}, mimeType, size}}
//   com.atproto.repo.createRecord -> {uri, cid, commit, validationStatus}; a second record at the
//     same rkey is refused; post text over 300 graphemes is refused
//   com.atproto.repo.getRecord / listRecords, com.atproto.identity.resolveHandle
// Errors are {error, message}; rate limits use RateLimit-* headers (reset in epoch seconds).

export const BSKY_DID = 'did:plc:abcdefghijklmnopqrstuvwx';
export const BSKY_HANDLE = 'tocsin.bsky.test';

export interface FakeRecord {
  rkey: string;
  uri: string;
  cid: string;
  value: {
    text: string;
    createdAt: string;
    langs?: string[];
    facets?: Array<{ index: { byteStart: number; byteEnd: number }; features: Array<{ $type: string; uri?: string; did?: string }> }>;
    reply?: { root: { uri: string; cid: string }; parent: { uri: string; cid: string } };
    embed?: {
      $type: string;
      images?: Array<{ alt: string; image: { $type: string; ref: { $link: string }; mimeType: string; size: number } }>;
      external?: { uri: string; title: string; description: string };
    };
  };
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

/** A CIDv1 (sha2-256) in base32, as the PDS returns: codec 0x55 raw for blobs, 0x71 dag-cbor for records. */
export function cidFor(data: Buffer | string, codec: 0x55 | 0x71): string {
  const digest = createHash('sha256').update(data).digest();
  return `b${base32(Buffer.concat([Buffer.from([0x01, codec, 0x12, 0x20]), digest]))}`;
}

const graphemes = (s: string) => [...new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(s)].length;
const TID = /^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$/;

export class FakeBluesky {
  readonly app: FastifyInstance = createFakeApp();
  url = '';
  password = 'abcd-efgh-ijkl-mnop';
  readonly records: FakeRecord[] = [];
  readonly blobs = new Map<string, { bytes: Buffer; mimeType: string }>();
  readonly createScript = new Script();
  readonly requests: string[] = [];
  sessions = 0;
  active = true;
  private readonly accessTokens = new Set<string>();

  constructor() {
    const app = this.app;
    app.addHook('onRequest', async (req) => {
      this.requests.push(`${req.method} ${req.url.split('?')[0]}`);
    });
    app.addHook('onSend', async (_req, reply) => {
      reply.header('ratelimit-limit', '5000');
      if (!reply.hasHeader('ratelimit-remaining')) reply.header('ratelimit-remaining', '4999');
      if (!reply.hasHeader('ratelimit-reset')) reply.header('ratelimit-reset', String(Math.floor(Date.now() / 1000) + 3600));
      reply.header('ratelimit-policy', '5000;w=3600');
    });

    app.post('/xrpc/com.atproto.server.createSession', async (req, reply) => {
      const body = req.body as { identifier?: string; password?: string };
      if ((body.identifier !== BSKY_HANDLE && body.identifier !== BSKY_DID) || body.password !== this.password) {
        return reply.code(401).send({ error: 'AuthenticationRequired', message: 'Invalid identifier or password' });
      }
      this.sessions++;
      return this.newSession();
    });
    app.post('/xrpc/com.atproto.server.refreshSession', async () => this.newSession());
    app.get('/xrpc/com.atproto.server.getSession', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      return { did: BSKY_DID, handle: BSKY_HANDLE, active: this.active, ...(this.active ? {} : { status: 'deactivated' }) };
    });
    app.get('/xrpc/com.atproto.identity.resolveHandle', async (req, reply) => {
      const { handle } = req.query as { handle?: string };
      if (handle === BSKY_HANDLE) return { did: BSKY_DID };
      return reply.code(400).send({ error: 'InvalidRequest', message: 'Unable to resolve handle' });
    });

    app.post('/xrpc/com.atproto.repo.uploadBlob', async (req, reply) => {
      if (!this.authorised(req, reply)) return reply;
      const bytes = req.body as Buffer;
      const mimeType = String(req.headers['content-type']);
      if (!Buffer.isBuffer(bytes) || !bytes.length) return reply.code(400).send({ error: 'InvalidRequest', message: 'empty blob' });
      if (bytes.length > 1_000_000) return reply.code(400).send({ error: 'BlobTooLarge', message: 'This file is too large.' });
      const cid = cidFor(bytes, 0x55);
      this.blobs.set(cid, { bytes, mimeType });
      return { blob: { $type: 'blob', ref: { $link: cid }, mimeType, size: bytes.length } };
    });

    app.post('/xrpc/com.atproto.repo.createRecord', async (req, reply) => this.createRecord(req, reply));
    app.get('/xrpc/com.atproto.repo.getRecord', async (req, reply) => {
      const q = req.query as Record<string, string>;
      const record = this.records.find((r) => r.rkey === q.rkey && q.collection === 'app.bsky.feed.post');
      if (!record) return reply.code(400).send({ error: 'RecordNotFound', message: `Could not locate record: at://${q.repo}/${q.collection}/${q.rkey}` });
      return { uri: record.uri, cid: record.cid, value: { $type: 'app.bsky.feed.post', ...record.value } };
    });
    app.get('/xrpc/com.atproto.repo.listRecords', async (req) => {
      const q = req.query as Record<string, string>;
      const list = [...this.records].reverse().slice(0, Number(q.limit ?? 50));
      return { records: list.map((r) => ({ uri: r.uri, cid: r.cid, value: { $type: 'app.bsky.feed.post', ...r.value } })) };
    });
  }

  async start(): Promise<this> {
    this.url = await listen(this.app);
    return this;
  }

  close(): Promise<void> {
    return this.app.close();
  }

  /** Invalidates every access token, as when they expire. */
  expireSessions(): void {
    this.accessTokens.clear();
  }

  private newSession() {
    const accessJwt = `access.${randomBytes(8).toString('hex')}`;
    this.accessTokens.add(accessJwt);
    return { did: BSKY_DID, handle: BSKY_HANDLE, accessJwt, refreshJwt: `refresh.${randomBytes(8).toString('hex')}`, active: this.active };
  }

  private authorised(req: FastifyRequest, reply: FastifyReply): boolean {
    const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
    if (this.accessTokens.has(token)) return true;
    reply.code(400).send({ error: 'ExpiredToken', message: 'Token has expired' });
    return false;
  }

  private async createRecord(req: FastifyRequest, reply: FastifyReply) {
    if (!this.authorised(req, reply)) return reply;
    const scripted = this.createScript.next();
    if (scripted && 'status' in scripted) return misbehave(reply, scripted);
    const body = req.body as { repo?: string; collection?: string; rkey?: string; record?: FakeRecord['value'] & { $type?: string } };
    if (body.repo !== BSKY_DID && body.repo !== BSKY_HANDLE)
      return reply.code(400).send({ error: 'InvalidRequest', message: `Could not find repo: ${body.repo}` });
    const record = body.record;
    if (body.collection !== 'app.bsky.feed.post' || record?.$type !== 'app.bsky.feed.post')
      return reply.code(400).send({ error: 'InvalidRequest', message: 'Invalid collection' });
    if (typeof record.text !== 'string' || graphemes(record.text) > 300 || Buffer.byteLength(record.text) > 3000) {
      return reply.code(400).send({ error: 'InvalidRequest', message: 'Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes' });
    }
    if (body.rkey && !TID.test(body.rkey)) return reply.code(400).send({ error: 'InvalidRequest', message: 'Invalid record key: posts need a TID' });
    const rkey = body.rkey ?? tidNow();
    if (this.records.some((r) => r.rkey === rkey))
      return reply.code(400).send({ error: 'InvalidRequest', message: `Record already exists at at://${BSKY_DID}/app.bsky.feed.post/${rkey}` });
    for (const key of ['root', 'parent'] as const) {
      const ref = record.reply?.[key];
      if (ref && !this.records.some((r) => r.uri === ref.uri && r.cid === ref.cid))
        return reply.code(400).send({ error: 'InvalidRequest', message: `reply ${key} does not exist` });
    }
    for (const img of record.embed?.images ?? []) {
      if (!this.blobs.has(img.image?.ref?.$link)) return reply.code(400).send({ error: 'InvalidRequest', message: 'Blob not found' });
      if (typeof img.alt !== 'string') return reply.code(400).send({ error: 'InvalidRequest', message: 'Record/embed/images/0 must have the property "alt"' });
    }
    const textBytes = Buffer.from(record.text);
    for (const facet of record.facets ?? []) {
      if (facet.index.byteEnd > textBytes.length || facet.index.byteStart < 0)
        return reply.code(400).send({ error: 'InvalidRequest', message: 'facet out of range' });
    }
    const uri = `at://${BSKY_DID}/app.bsky.feed.post/${rkey}`;
    const { $type: _t, ...value } = record;
    const stored: FakeRecord = { rkey, uri, cid: cidFor(JSON.stringify(record), 0x71), value };
    this.records.push(stored);
    if (scripted && 'hangAfterStore' in scripted) return hang(reply);
    return { uri, cid: stored.cid, commit: { cid: cidFor(`commit-${rkey}`, 0x71), rev: tidNow() }, validationStatus: 'valid' };
  }
}

let last = 0n;
function tidNow(): string {
  let micros = BigInt(Date.now()) * 1000n;
  if (micros <= last) micros = last + 1n;
  last = micros;
  let v = micros << 10n;
  let out = '';
  for (let i = 0; i < 13; i++) {
    out = '234567abcdefghijklmnopqrstuvwxyz'[Number(v & 31n)] + out;
    v >>= 5n;
  }
  return out;
}
