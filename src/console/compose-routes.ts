import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import { newAlert, type Alert } from '../domain/alert.js';
import type { FastifyError } from 'fastify';
import {
  FIELD_LABELS,
  attachmentLine,
  emptyValues,
  formValues,
  levelOptions,
  stageOptions,
  toAlertInput,
  valuesFromAlert,
  type ComposeValues,
  type FieldError,
} from './compose-form.js';
import { createDraft, updateDraft } from './drafts.js';
import { previewAlert, type AlertPreview } from './preview.js';
import { actorOf, field, fields, redirectWithNotice, sendPage, type ConsoleDeps } from './deps.js';
import { renderFragment } from './view.js';

type IdParams = { Params: { id: string } };

const files = (body: unknown, name: string): MultipartFile[] => {
  const raw = (body as Record<string, unknown> | undefined)?.[name];
  return (Array.isArray(raw) ? raw : raw ? [raw] : []).filter((f): f is MultipartFile =>
    Boolean(f && typeof f === 'object' && (f as MultipartFile).type === 'file' && (f as MultipartFile).filename),
  );
};

const cleanTitle = (name: string) =>
  name
    .replace(/[\u0000-\u001f\u007f|]/g, ' ')
    .trim()
    .slice(0, 200) || 'Attachment';

export async function composeRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  /** Stores uploaded files and writes their URLs into the form values, so a re-shown form keeps them. */
  async function takeUploads(body: unknown, values: ComposeValues): Promise<FieldError[]> {
    const problems: FieldError[] = [];
    const [image] = files(body, 'imageFile');
    if (image) {
      const data = await image.toBuffer();
      if (data.length > 0) {
        try {
          values.imageUrl = (await deps.uploads.save(data, 'Image file', 'image')).url;
        } catch (err) {
          problems.push({ field: 'imageFile', label: 'Image file', message: (err as Error).message });
        }
      }
    }
    for (const file of files(body, 'attachmentFiles')) {
      const data = await file.toBuffer();
      if (data.length === 0) continue;
      try {
        const stored = await deps.uploads.save(data, `Attachment "${cleanTitle(file.filename)}"`, 'attachment');
        const line = attachmentLine({ title: cleanTitle(file.filename), url: stored.url, mediaType: stored.mediaType, bytes: stored.bytes });
        values.attachments = values.attachments.trim() ? `${values.attachments.trim()}\n${line}` : line;
      } catch (err) {
        problems.push({ field: 'attachmentFiles', label: 'Attachment files', message: (err as Error).message });
      }
    }
    return problems;
  }

  function composePage(
    request: FastifyRequest,
    reply: FastifyReply,
    options: { values: ComposeValues; errors?: FieldError[]; alert?: Alert; version?: string; preview?: AlertPreview; status?: number; formError?: string },
  ) {
    const errorList = options.errors ?? [];
    const byField: Record<string, string> = {};
    for (const e of errorList) byField[e.field] = byField[e.field] ? `${byField[e.field]}; ${e.message}` : e.message;
    const title = options.alert ? `Edit: ${options.alert.title}` : 'Compose an alert';
    return sendPage(
      deps,
      request,
      reply,
      'compose',
      title,
      {
        heading: title,
        values: options.values,
        errors: errorList,
        fieldErrors: byField,
        formError: options.formError,
        levels: levelOptions(options.values.level),
        stages: stageOptions(options.values.stages),
        editing: Boolean(options.alert),
        alert: options.alert,
        version: options.version ?? '',
        action: options.alert ? `/console/alerts/${options.alert.id}/edit` : '/console/compose',
        preview: options.preview,
        maxUploadMb: Math.floor(deps.uploads.maxBytes / (1024 * 1024)),
        labels: FIELD_LABELS,
      },
      { nav: 'compose', status: options.status, scripts: ['live-preview'] },
    );
  }

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
