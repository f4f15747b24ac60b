import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { newAlert, type Alert } from '../domain/alert.js';
import type { FastifyError } from 'fastify';
import { FIELD_LABELS, emptyValues, formValues, toAlertInput, valuesFromAlert, type ComposeValues } from './compose-form.js';
import { sendComposePage, takeUploads as takeFormUploads, type ComposePageOptions } from './compose-page.js';
import { createDraft, updateDraft } from './drafts.js';
import { previewAlert } from './preview.js';
import { actorOf, field, fields, redirectWithNotice, type ConsoleDeps } from './deps.js';
import { renderFragment } from './view.js';

type IdParams = { Params: { id: string } };

export async function composeRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;
  const composePage = (request: FastifyRequest, reply: FastifyReply, options: ComposePageOptions) => sendComposePage(deps, request, reply, options);
  const takeUploads = (body: unknown, values: ComposeValues) => takeFormUploads(deps, body, values);

  app.get('/console/compose', { config: { role: 'editor' } }, async (request, reply) => composePage(request, reply, { values: emptyValues() }));

  app.post('/console/compose', { config: { role: 'editor' } }, async (request, reply) => {
    const values = formValues(fields(request.body));
    const uploadErrors = await takeUploads(request.body, values);
    const { input, errors } = toAlertInput(values);
    if (!input || uploadErrors.length) return composePage(request, reply, { values, errors: [...uploadErrors, ...errors], status: 400 });
    let alert: Alert;
    try {
      alert = await createDraft(ctx, input, actorOf(request).actor);
    } catch (err) {
      if ((err as FastifyError).code !== 'TOCSIN_ERR_ALERT_EXISTS') throw err;
      return composePage(request, reply, {
        values,
        errors: [{ field: 'slug', label: FIELD_LABELS.slug, message: `${(err as Error).message}; choose another slug` }],
        status: 409,
      });
    }
    await deps.audit.record(alert.id, { ...actorOf(request), action: 'created', detail: `draft "${alert.title}"` });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, 'created');
  });

  app.get<IdParams>('/console/alerts/:id/edit', { config: { role: 'editor' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    return composePage(request, reply, {
      values: valuesFromAlert(alert),
      alert,
      version: alert.updatedAt,
      formError: ['draft', 'approved'].includes(alert.status) ? undefined : `This alert is ${alert.status} and can no longer be edited.`,
    });
  });

  app.post<IdParams>('/console/alerts/:id/edit', { config: { role: 'editor' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    const values = { ...formValues(fields(request.body)), slug: alert.slug };
    const version = field(request.body, 'version');
    const uploadErrors = await takeUploads(request.body, values);
    const { input, errors } = toAlertInput(values, undefined, true);
    if (!input || uploadErrors.length) return composePage(request, reply, { values, errors: [...uploadErrors, ...errors], alert, version, status: 400 });
    let previous: string;
    try {
      ({ previous } = await updateDraft(ctx, alert.id, input, version));
    } catch (err) {
      const code = (err as FastifyError).code;
      if (code !== 'TOCSIN_ERR_ALERT_EDIT_CONFLICT' && code !== 'TOCSIN_ERR_ALERT_NOT_EDITABLE') throw err;
      return composePage(request, reply, { values, alert, version, status: 409, formError: (err as Error).message });
    }
    await deps.audit.record(alert.id, {
      ...actorOf(request),
      action: 'edited',
      detail: previous === 'approved' ? 'content changed; the approval was withdrawn' : 'content changed',
    });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, previous === 'approved' ? 'saved-unapproved' : 'saved');
  });

  // Preview of the form as it stands, with the renderers delivery uses. The page script asks for
  // the fragment alone; without script the "Preview" button shows the whole form again with it.
  app.post('/console/preview', { config: { role: 'editor' } }, async (request, reply) => {
    const values = formValues(fields(request.body));
    const alertId = field(request.body, 'alertId');
    const editing = alertId ? await ctx.alerts.get(alertId) : null;
    const { input, errors } = toAlertInput(values, undefined, Boolean(editing));
    const preview = input ? await previewAlert(ctx.config, deps.accounts, newAlert(input, new Date(), actorOf(request).actor)) : undefined;
    if (request.headers['x-tocsin-fragment'] === '1') {
      return reply.type('text/html; charset=utf-8').send(renderFragment(ctx.config, 'preview-fragment', { preview, errors }, request.consoleSession));
    }
    return composePage(request, reply, {
      values: editing ? { ...values, slug: editing.slug } : values,
      errors,
      preview,
      ...(editing ? { alert: editing, version: field(request.body, 'version') } : {}),
      status: errors.length ? 400 : 200,
    });
  });
}
