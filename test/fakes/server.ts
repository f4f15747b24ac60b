import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import formbody from '@fastify/formbody';

// Shared plumbing for the provider fakes: a Fastify app on 127.0.0.1, port 0, that parses JSON,
// forms, multipart and raw bytes, and can be told to misbehave on a given request.

export interface MultipartField {
  name: string;
  filename?: string;
  contentType?: string;
  data: Buffer;
}

/** Parses multipart/form-data (enough for the fakes: fields and files). */
export function parseMultipart(body: Buffer, contentType: string): MultipartField[] {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) throw new Error('multipart without boundary');
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]}`);
  const fields: MultipartField[] = [];
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(delimiter, start);
    if (next === -1) break;
    const chunk = body.subarray(start + 2, next - 2); // skip CRLF after delimiter and before next
    const headerEnd = chunk.indexOf('\r\n\r\n');
    const head = chunk.subarray(0, headerEnd).toString('utf8');
    const data = chunk.subarray(headerEnd + 4);
    const disposition = /content-disposition:[^\r\n]*/i.exec(head)?.[0] ?? '';
    const name = /name="([^"]*)"/i.exec(disposition)?.[1] ?? '';
    const filename = /filename="([^"]*)"/i.exec(disposition)?.[1];
    const type = /content-type:\s*([^\r\n]+)/i.exec(head)?.[1]?.trim();
    fields.push({ name, ...(filename !== undefined ? { filename } : {}), ...(type ? { contentType: type } : {}), data });
    pos = next;
  }
  return fields;
}

export function multipartObject(fields: MultipartField[]): Record<string, MultipartField> {
  return Object.fromEntries(fields.map((f) => [f.name, f]));
}

/** What a scripted request does instead of (or besides) its normal work. */
export type Misbehaviour =
  /** Answer this instead, storing nothing. */
  | { status: number; headers?: Record<string, string>; body?: unknown }
  /** Store the post, then never answer (the client times out). */
  | { hangAfterStore: true };

/** One entry per upcoming request of a kind; `undefined` entries behave normally. */
export class Script {
  private readonly queue: Array<Misbehaviour | undefined> = [];
  /** `at` is 1 for the next request of this kind, 3 for the third from now. */
  on(at: number, what: Misbehaviour): this {
    while (this.queue.length < at) this.queue.push(undefined);
    this.queue[at - 1] = what;
    return this;
  }
  next(): Misbehaviour | undefined {
    return this.queue.shift();
  }
}

export function createFakeApp(): FastifyInstance {
  const app = Fastify({ logger: false, forceCloseConnections: true, bodyLimit: 20 * 1024 * 1024 });
  app.register(formbody);
  app.addContentTypeParser(/^multipart\/form-data/i, { parseAs: 'buffer' }, (req, body, done) => {
    try {
      done(null, parseMultipart(body as Buffer, String(req.headers['content-type'])));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addContentTypeParser(/^(image|application\/octet-stream|video)/i, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  return app;
}

export async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  return `http://127.0.0.1:${address.port}`;
}

/** Never answers: the connection stays open until the client gives up or the fake closes. */
export function hang(reply: FastifyReply): FastifyReply {
  reply.hijack();
  return reply;
}

export function misbehave(reply: FastifyReply, what: Extract<Misbehaviour, { status: number }>): FastifyReply {
  reply.code(what.status);
  for (const [k, v] of Object.entries(what.headers ?? {})) reply.header(k, v);
  return reply.send(what.body ?? '');
}

let counter = 0n;
/** Increasing numeric ids, like snowflakes. */
export function snowflake(): string {
  counter += 1n;
  return (1_790_000_000_000_000_000n + BigInt(Date.now()) * 1000n + counter).toString();
}
