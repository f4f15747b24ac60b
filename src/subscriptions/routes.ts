import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.js';

/** Public subscription routes (/subscribe, /api/subscribe, confirm, preferences, bounces). */
export async function subscriptionRoutes(_app: FastifyInstance, _ctx: Context): Promise<void> {}
