import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.js';
import type { AccountChannel } from '../channels/types.js';

/** The operator console (/console), metrics (/metrics) and Bull Board (/admin/queues). */
export async function consoleRoutes(_app: FastifyInstance, _ctx: Context, _accounts: Map<string, AccountChannel>): Promise<void> {}
