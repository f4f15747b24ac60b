import type { Keys } from './keys.js';
import type { RedisClient } from './lua.js';

// A halt stops an alert that is still going out. It holds for the deliveries of every version up
// to the one current when it was made: a correction published after the halt goes out (it is a
// new version), the halted original does not. Workers read the flag before every send.

export interface Halt {
  by: string;
  reason: string;
  at: string;
  /** Deliveries of this version and earlier are halted. */
  version: number;
}

export class HaltStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /** Sets the halt unless one is in place; false when the alert was already halted. */
  async set(alertId: string, halt: Halt): Promise<boolean> {
    return (await this.redis.set(this.keys.halt(alertId), JSON.stringify(halt), 'NX')) === 'OK';
  }

  /** Widens a halt to a later version (a correction that is going out is halted in its turn). */
  async replace(alertId: string, _previous: Halt, halt: Halt): Promise<void> {
    await this.redis.set(this.keys.halt(alertId), JSON.stringify(halt));
  }

  async get(alertId: string): Promise<Halt | null> {
    const raw = await this.redis.get(this.keys.halt(alertId));
    return raw ? (JSON.parse(raw) as Halt) : null;
  }

  async clear(alertId: string): Promise<void> {
    await this.redis.del(this.keys.halt(alertId));
  }

  /** The halt that stops deliveries of `version`, if any. */
  async stopping(alertId: string, version = 1): Promise<Halt | null> {
    const halt = await this.get(alertId);
    return halt && version <= halt.version ? halt : null;
  }
}

/** The reason a halted delivery's ledger entry shows. */
export const haltNote = (halt: Halt): string => `halted by ${halt.by}: ${halt.reason}`;
