import type { FastifyInstance } from 'fastify';
import type { WorkflowAlert } from '../publish/approval.js';
import { auditCsv } from '../store/audit.js';
import { alertPageData, controlsData, deliveryData } from './alert-view.js';
import { sendPage, type ConsoleDeps } from './deps.js';
import { renderFragment } from './view.js';
import { csrfToken } from './security.js';

type IdParams = { Params: { id: string } };

export async function alertRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  app.get<IdParams>('/console/alerts/:id', { config: { role: 'viewer' } }, async (request, reply) => {
    const alert = (await ctx.alerts.require(request.params.id)) as WorkflowAlert;
    const data = await alertPageData(deps, alert, request.consoleSession);
    return sendPage(deps, request, reply, 'alert', alert.title, data, { nav: 'alerts', scripts: ['live-progress'] });
  });

  // The delivery section and the stop/correct/retract controls alone, for the page script to refresh when they change.
  app.get<IdParams>('/console/alerts/:id/delivery', { config: { role: 'viewer' } }, async (request, reply) => {
    const alert = (await ctx.alerts.require(request.params.id)) as WorkflowAlert;
    const [delivery, controls] = await Promise.all([deliveryData(deps, alert, request.consoleSession), controlsData(deps, alert, request.consoleSession)]);
    const html = renderFragment(ctx.config, 'delivery-fragment', { delivery, controls, alert }, request.consoleSession, csrfToken(request, reply));
    return reply.type('text/html; charset=utf-8').send(html);
  });

  app.get<IdParams>('/console/alerts/:id/audit.json', { config: { role: 'viewer' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    const entries = await deps.audit.list(alert.id);
    return reply
      .header('content-disposition', `attachment; filename="audit-${alert.slug}.json"`)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify({ alert: { id: alert.id, slug: alert.slug, title: alert.title }, entries }, null, 2));
  });

  app.get<IdParams>('/console/alerts/:id/audit.csv', { config: { role: 'viewer' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    return reply
      .header('content-disposition', `attachment; filename="audit-${alert.slug}.csv"`)
      .type('text/csv; charset=utf-8')
      .send(auditCsv(await deps.audit.list(alert.id)));
  });
}
