import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Alert } from '../domain/alert.js';
import { errors } from '../errors.js';
import { correctAlert, WENT_OUT } from '../publish/follow-up.js';
import { formValues, toAlertInput, valuesFromAlert, type ComposeValues, type FieldError } from './compose-form.js';
import { sendComposePage, takeUploads, type CorrectionView } from './compose-page.js';
import { actorOf, field, fields, redirectWithNotice, type ConsoleDeps } from './deps.js';
import { followUpAudience } from './follow-up-audience.js';
import { fanOuts, goingOut } from './fan-outs.js';
import { previewAlert, type AlertPreview } from './preview.js';
import { formatDate, renderFragment } from './view.js';

type IdParams = { Params: { id: string } };

// Correcting an alert that went out: the compose form, prefilled from the current version, plus
// "What changed" (readers see it). correctAlert does the work, as for the CLI and the API: a new
// version on the public record, halting the alert first if it is still going out, then a
// follow-up delivery on every channel. Publisher only.

const NOTE_LABEL = 'What changed';
const correctionNote = z
  .string()
  .trim()
  .min(1, 'say what changed, in words readers will see (for example “The date was 8 January, not 1 August.”)')
  .max(2000, 'at most 2,000 characters');

export async function correctRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  async function correctionView(alert: Alert, note: string, basedOn?: number): Promise<CorrectionView> {
    const [audience, counts, fans, latest] = await Promise.all([
      followUpAudience(ctx, alert, 'correction', deps.accounts),
      ctx.ledger.counts(alert.id),
      fanOuts(ctx, alert.id),
      ctx.versions.latest(alert.id),
    ]);
    const current = latest?.version ?? 1;
    return {
      note,
      basedOn: basedOn ?? current,
      nextVersion: current + 1,
      audience,
      recipients: audience.replies + audience.fresh,
      goingOut: goingOut(alert.status, fans, counts),
      halted: fans.halt !== null && alert.status === 'halted',
      waiting: counts.totals.queued + counts.totals.retrying,
    };
  }

  /**
   * What the correction will send, not a fresh alert: the corrected text as the next version, with
   * the "Correction:" subject and the "What changed" notice (the email those who got an earlier
   * version receive), and each account's reply, rendered as the follow-up worker renders them.
   */
  async function correctionPreview(alert: Alert, values: ComposeValues, note: string): Promise<{ preview?: AlertPreview; errors: FieldError[] }> {
    const { input, errors: fieldErrors } = toAlertInput(values, undefined, true);
    if (!input) return { errors: fieldErrors };
    const latest = await ctx.versions.latest(alert.id);
    const corrected: Alert = { ...alert, ...input, id: alert.id, slug: alert.slug, createdAt: alert.createdAt };
    const notice = { kind: 'correction' as const, version: (latest?.version ?? 1) + 1, note: note.trim(), at: new Date().toISOString() };
    return { preview: await previewAlert(ctx.config, deps.accounts, corrected, notice), errors: fieldErrors };
  }

  const page = async (
    request: FastifyRequest,
    reply: FastifyReply,
    alert: Alert,
    options: { values: ComposeValues; note: string; basedOn?: number; errors?: FieldError[]; formError?: string; status?: number; preview?: boolean },
  ) => {
    const preview = options.preview ? (await correctionPreview(alert, options.values, options.note)).preview : undefined;
    return sendComposePage(deps, request, reply, {
      values: options.values,
      alert,
      errors: options.errors,
      formError: options.formError,
      status: options.status,
      preview,
      correction: await correctionView(alert, options.note, options.basedOn),
    });
  };

  app.get<IdParams>('/console/alerts/:id/correct', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    if (!WENT_OUT.includes(alert.status)) return blocked(request, reply, alert);
    return page(request, reply, alert, { values: valuesFromAlert(alert), note: '' });
  });

  app.post<IdParams>('/console/alerts/:id/correct', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    if (!WENT_OUT.includes(alert.status)) throw errors.ALERT_NOT_FOLLOWABLE(alert.slug, 'corrected', alert.status);
    const values = { ...formValues(fields(request.body)), slug: alert.slug };
    const note = field(request.body, 'note');
    const basedOn = Number(field(request.body, 'basedOn')) || undefined;
    const uploadErrors = await takeUploads(deps, request.body, values);
    const { input, errors: fieldErrors } = toAlertInput(values, undefined, true);
    const checkedNote = correctionNote.safeParse(note);
    const problems: FieldError[] = [
      ...(checkedNote.success ? [] : [{ field: 'note' as const, label: NOTE_LABEL, message: checkedNote.error.issues[0].message }]),
      ...uploadErrors,
      ...fieldErrors,
    ];
    // "Update preview" without script: the form again, with the preview, and nothing sent.
    if (field(request.body, 'intent') === 'preview') {
      return page(request, reply, alert, { values, note, basedOn, errors: problems, preview: true, status: problems.length ? 400 : 200 });
    }
    if (!input || problems.length) return page(request, reply, alert, { values, note, basedOn, errors: problems, status: 400 });

    // Someone published another version after this form was opened: do not overwrite it unseen.
    const latest = await ctx.versions.latest(alert.id);
    if (latest && basedOn !== undefined && latest.version !== basedOn) {
      return page(request, reply, alert, {
        values,
        note,
        basedOn: latest.version,
        status: 409,
        formError: `Version ${latest.version} (${latest.kind}) was published${latest.by ? ` by ${latest.by}` : ''} on ${formatDate(latest.at)}, after you opened this form. Compare it with your text below, then publish again.`,
      });
    }

    const who = actorOf(request);
    let result;
    try {
      result = await correctAlert(ctx, alert.id, input, checkedNote.data!, who.actor, who.role);
    } catch (err) {
      const code = (err as FastifyError).code;
      if (code !== 'TOCSIN_ERR_ALERT_NOT_FOLLOWABLE' && code !== 'TOCSIN_ERR_ALERT_INVALID' && code !== 'TOCSIN_ERR_BODY_INVALID') throw err;
      return page(request, reply, alert, {
        values,
        note,
        basedOn,
        status: code === 'TOCSIN_ERR_ALERT_NOT_FOLLOWABLE' ? 409 : 400,
        formError: (err as Error).message,
      });
    }
    const notice = result.outcome === 'already' ? 'correction-already' : result.halted?.outcome === 'halted' ? 'corrected-halted' : 'corrected';
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, notice, result.version.version);
  });

  // The page script's live preview (the fragment alone), as "Update preview" shows it without script.
  app.post<IdParams>('/console/alerts/:id/correct/preview', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    const values = { ...formValues(fields(request.body)), slug: alert.slug };
    const { preview, errors: fieldErrors } = await correctionPreview(alert, values, field(request.body, 'note'));
    return reply
      .type('text/html; charset=utf-8')
      .send(renderFragment(ctx.config, 'preview-fragment', { preview, errors: fieldErrors }, request.consoleSession));
  });

  function blocked(request: FastifyRequest, reply: FastifyReply, alert: Alert) {
    const why =
      alert.status === 'retracted'
        ? 'This alert was retracted; a retracted alert cannot be corrected.'
        : `This alert is ${alert.status} and has not gone out, so there is nothing to correct.${['draft', 'approved'].includes(alert.status) ? ' Edit the draft instead.' : ''}`;
    return sendComposePage(deps, request, reply, { values: valuesFromAlert(alert), alert, formError: why, correction: { blocked: true } });
  }
}
