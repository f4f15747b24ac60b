import { createHmac, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { ConsoleRole } from '../config/schema.js';
import type { Keys } from '../store/keys.js';
import { CONSOLE_ROLES } from '../config/schema.js';

export const SESSION_COOKIE = 'tocsin_console';

export interface ConsoleSession {
  id: string;
  role: ConsoleRole;
  /** The person, as recorded in the audit log and compared for approvals: 2. */
  actor: string;
  /** Which login token opened it (its fingerprint, not the token). */
  fingerprint: string;
  createdAt: string;
}

const storedSchema = z.object({
  role: z.enum(CONSOLE_ROLES),
  actor: z.string().min(1),
  fingerprint: z.string().min(1),
  createdAt: z.string(),
});

/** Cookies are signed with a key derived from the instance secret, so no new secret is needed. */
export const cookieSecret = (secret: string): string => createHmac('sha256', secret).update('console-cookie').digest('base64url');

/** Sessions live in Redis and expire after the idle time; each request extends them. */
export class SessionStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly idleSeconds: number,
  ) {}

  async create(data: Omit<ConsoleSession, 'id' | 'createdAt'>): Promise<ConsoleSession> {
    const session: ConsoleSession = { id: randomBytes(32).toString('base64url'), createdAt: new Date().toISOString(), ...data };
    const { id, ...stored } = session;
    await this.redis.set(this.keys.consoleSession(id), JSON.stringify(stored), 'EX', this.idleSeconds);
    return session;
  }

  /** The session, with its expiry pushed back; null if unknown, expired or unreadable. */
  async touch(id: string): Promise<ConsoleSession | null> {
    if (!/^[A-Za-z0-9_-]{43}$/.test(id)) return null;
    const key = this.keys.consoleSession(id);
    const [[, raw]] = (await this.redis.multi().get(key).expire(key, this.idleSeconds).exec()) as [[Error | null, string | null], unknown];
    if (!raw) return null;
    const parsed = storedSchema.safeParse(JSON.parse(raw));
    return parsed.success ? { id, ...parsed.data } : null;
  }

  async destroy(id: string): Promise<void> {
    await this.redis.del(this.keys.consoleSession(id));
  }

  async ttl(id: string): Promise<number> {
    return this.redis.ttl(this.keys.consoleSession(id));
  }
}
