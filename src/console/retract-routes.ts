import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Alert } from '../domain/alert.js';
import { errors } from '../errors.js';
import { retractAlert, WENT_OUT } from '../publish/follow-up.js';
import { actorOf, field, redirectWithNotice, sendPage, type ConsoleDeps } from './deps.js';
import { followUpAudience } from './follow-up-audience.js';
import { fanOuts, goingOut } from './fan-outs.js';

type IdParams = { Params: { id: string } };

// Retracting an alert that went out, in two steps: a form (why; and whether to delete the
// original social posts where the provider allows it, off by default), then a confirmation page
// that repeats both and says who gets the retraction. retractAlert does the work, as for the CLI
// and the API. Publisher only.

const retractReason = z
  .string()
  .trim()
  .min(1, 'say why it is retracted; readers see it on the public page and in the retraction')
  .max(2000, 'at most 2,000 characters');

export async function retractRoutes(app: FastifyInstance, deps: ConsoleDeps): Promise<void> {
  const { ctx } = deps;

  async function retractPage(
    request: FastifyRequest,
    reply: FastifyReply,
    alert: Alert,
    options: { step: 'form' | 'confirm'; reason?: string; deleteOriginals?: boolean; reasonError?: string; status?: number },
  ) {
    const allowed = WENT_OUT.includes(alert.status);
    const [audience, counts, fans] = allowed
      ? await Promise.all([followUpAudience(ctx, alert, 'retraction', deps.accounts), ctx.ledger.counts(alert.id), fanOuts(ctx, alert.id)])
      : [undefined, undefined, undefined];
    const deletable = audience ? audience.accounts.filter((a) => a.posted && typeof deps.accounts.get(a.id)?.deletePart === 'function').map((a) => a.id) : [];
    return sendPage(
      deps,
      request,
      reply,
      'retract',
      `Retract: ${alert.title}`,
      {
        alert,
        allowed,
        why: allowed
          ? undefined
          : alert.status === 'retracted'
            ? 'This alert is already retracted.'
            : `This alert is ${alert.status} and has not gone out, so there is nothing to retract.`,
        confirming: options.step === 'confirm',
        reason: options.reason ?? '',
        reasonError: options.reasonError,
        deleteOriginals: options.deleteOriginals === true,
        audience,
        goingOut: counts && fans ? goingOut(alert.status, fans, counts) : false,
        deletable,
      },
      { nav: 'alerts', status: options.status },
    );
  }

  app.get<IdParams>('/console/alerts/:id/retract', { config: { role: 'publisher' } }, async (request, reply) => {
    return retractPage(request, reply, await ctx.alerts.require(request.params.id), { step: 'form' });
  });

  app.post<IdParams>('/console/alerts/:id/retract', { config: { role: 'publisher' } }, async (request, reply) => {
    const alert = await ctx.alerts.require(request.params.id);
    if (!WENT_OUT.includes(alert.status)) throw errors.ALERT_NOT_FOLLOWABLE(alert.slug, 'retracted', alert.status);
    const raw = field(request.body, 'reason');
    const deleteOriginals = field(request.body, 'deleteOriginals') === 'yes';
    const reason = retractReason.safeParse(raw);
    if (!reason.success) {
      return retractPage(request, reply, alert, {
        step: 'form',
        reason: raw.slice(0, 2000),
        deleteOriginals,
        reasonError: reason.error.issues[0].message,
        status: 400,
      });
    }
    // The first post shows the confirmation; only its button (confirm=yes) retracts.
    if (field(request.body, 'confirm') !== 'yes') return retractPage(request, reply, alert, { step: 'confirm', reason: reason.data, deleteOriginals });
    const who = actorOf(request);
    const result = await retractAlert(ctx, alert.id, reason.data, who.actor, { deleteOriginals, role: who.role });
    return redirectWithNotice(reply, `/console/alerts/${alert.id}`, result.outcome === 'already' ? 'retraction-already' : 'retracted', result.version.version);
  });
}
