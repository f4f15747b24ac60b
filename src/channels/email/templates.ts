import type { Context } from '../../context.js';
import type { RenderedEmail } from '../../render/email.js';
import { MimeTemplate, type MimeTemplateOptions, type Personalisation, type TemplateMessage } from './mime.js';
import { loadRendered } from '../../publish/rendered.js';
import { deliveryChannel } from '../../delivery/delivery-channel.js';
import { EMAIL_CHANNEL } from '../../publish/rendered.js';

/** A follow-up's emails: the one for those who had an earlier version, and (a correction) the one for those who had none. */
export interface FollowUpEmails {
  followUp: RenderedEmail;
  fresh?: RenderedEmail;
}

type Built = { followUp: MimeTemplate; fresh?: MimeTemplate };

const CACHE_SIZE = 8;

/** The MIME templates of the alerts a worker is sending, built once per (alert, version). */
export class EmailTemplates {
  private readonly cache = new Map<string, Built>();

  constructor(
    private readonly ctx: Pick<Context, 'redis' | 'keys'>,
    private readonly options: MimeTemplateOptions,
  ) {}

  async get(alertId: string, version: number): Promise<{ message(kind: 'follow-up' | 'fresh', p: Personalisation): TemplateMessage | null } | null> {
    const key = `${alertId}@${version}`;
    let built = this.cache.get(key);
    if (!built) {
      const loaded = await this.load(alertId, version);
      if (!loaded) return null;
      built = loaded;
      if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value as string);
      this.cache.set(key, built);
    }
    const b = built;
    return {
      message: (kind, p) => {
        const template = kind === 'follow-up' || version === 1 ? b.followUp : b.fresh;
        return template ? template.message(p) : null;
      },
    };
  }

  private async load(alertId: string, version: number): Promise<Built | null> {
    const channel = deliveryChannel(EMAIL_CHANNEL, version);
    if (version === 1) {
      const rendered = await loadRendered<RenderedEmail>(this.ctx, alertId, channel);
      return rendered ? { followUp: new MimeTemplate(rendered, this.options) } : null;
    }
    const rendered = await loadRendered<FollowUpEmails>(this.ctx, alertId, channel);
    if (!rendered) return null;
    return {
      followUp: new MimeTemplate(rendered.followUp, this.options),
      ...(rendered.fresh ? { fresh: new MimeTemplate(rendered.fresh, this.options) } : {}),
    };
  }
}
