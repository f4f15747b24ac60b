import type { Messenger } from '../channels/messenger.js';
import { subscriptionRoutes } from '../subscriptions/routes.js';
import { consoleRoutes } from '../console/routes.js';
import { metricsRoutes } from '../metrics/routes.js';
import { previewRoutes } from './routes/preview.js';
import type { ServerPlugin } from './server-plugin.js';

export type { ServerPlugin };

/** Route groups mounted on the server besides the core API: public subscription pages, the console, metrics, previews. */
export function serverPlugins(accounts: Map<string, Messenger>): ServerPlugin[] {
  return [subscriptionRoutes, (app, ctx) => consoleRoutes(app, ctx, accounts), metricsRoutes, (app, ctx) => previewRoutes(app, ctx, accounts)];
}
