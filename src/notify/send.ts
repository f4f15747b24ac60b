import { createHash } from 'node:crypto';
import type { NotifyTargetConfig } from '../config/schema.js';
import { SIGNATURE_HEADER, signPayload } from '../channels/webhook.js';
import { slackMessage, type Notice } from './payload.js';
import { withDeadline } from '../net/deadline.js';

export interface NotifyTarget extends NotifyTargetConfig {
  url: string;
  /** Stable name for progress records: a hash of url and format, so the URL is never stored. */
  key: string;
  /** Host only, for logs (a Slack webhook URL is itself a secret). */
  host: string;
  secret?: string;
}

/** Targets with their URL and secret read from the environment; problems are returned, not thrown. */
export function resolveTargets(targets: NotifyTargetConfig[], env: NodeJS.ProcessEnv): { targets: NotifyTarget[]; problems: string[] } {
  const out: NotifyTarget[] = [];
  const problems: string[] = [];
  targets.forEach((t, i) => {
    const url = t.url ?? (t.urlEnv ? env[t.urlEnv] : undefined);
    let host: string;
    try {
      const parsed = new URL(url ?? '');
      if (!/^https?:$/.test(parsed.protocol)) throw new Error('not http(s)');
      host = parsed.host;
    } catch {
      problems.push(`notify.targets.${i}: ${t.urlEnv ? `${t.urlEnv} is not set to an http(s) URL` : 'url is not an http(s) URL'}; this target is skipped`);
      return;
    }
    if (t.secretEnv && !env[t.secretEnv]) problems.push(`notify.targets.${i}: ${t.secretEnv} is not set; notifications to ${host} go unsigned`);
    out.push({
      ...t,
      url: url as string,
      key: createHash('sha256').update(`${t.format}|${url}`).digest('hex').slice(0, 16),
      host,
      ...(t.secretEnv && env[t.secretEnv] ? { secret: env[t.secretEnv] } : {}),
    });
  });
  return { targets: out, problems };
}

/** POSTs one notice, signed like the alert webhooks. Resolves on 2xx; throws with the reason otherwise. */
export async function sendNotice(target: NotifyTarget, notice: Notice): Promise<void> {
  const body = JSON.stringify(target.format === 'slack' ? slackMessage(notice) : notice);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Tocsin-Notify/1',
    'tocsin-event': notice.type,
    'idempotency-key': `tocsin-notify-${notice.id}`,
  };
  if (target.secret) headers[SIGNATURE_HEADER] = signPayload(target.secret, body);
  const response = await withDeadline(target.timeoutMs, (signal) => fetch(target.url, { method: 'POST', headers, body, signal }), {
    what: 'a status notification',
  });
  const text = (await response.text().catch(() => '')).slice(0, 200);
  if (!response.ok) throw new Error(`HTTP ${response.status}${text ? `: ${text}` : ''}`);
}
