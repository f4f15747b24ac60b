import type { FastifyInstance } from 'fastify';
import type { Context } from '../../context.js';

/**
 * The unsubscribe pages moved to src/subscriptions/token-routes.ts, with confirm and preferences.
 * This stays (empty) only because server.ts still registers it; delete both together.
 */
export async function unsubscribeRoutes(_app: FastifyInstance, _options: { ctx: Context }): Promise<void> {}
