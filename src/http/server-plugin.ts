import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.js';

/** A route group mounted on the server. Its own file, so route modules need not import the list of plugins. */
export type ServerPlugin = (app: FastifyInstance, ctx: Context) => Promise<void>;
