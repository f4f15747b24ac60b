import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.js';
import type { AccountChannel } from '../channels/types.js';

/** Optional route groups mounted on the server (subscriptions, console, metrics). */
export function serverPlugins(_accounts: Map<string, AccountChannel>): Array<(app: FastifyInstance, ctx: Context) => Promise<void>> {
  return [];
}
