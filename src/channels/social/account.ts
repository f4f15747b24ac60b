import type { z } from 'zod';
import type { SocialAccountConfig } from '../../config/schema.js';
import type { Alert } from '../../domain/alert.js';
import { DeliveryError, type FollowUp, type HealthReport, type PostedPart, type RenderedMessage, type RenderedPart } from '../messenger.js';
import { errorText } from '../http-errors.js';
import {
  composeAlert,
  Credentials,
  defaultFetcher,
  fetchImage,
  imageProblem,
  ImageUnavailable,
  parseAccountOptions,
  requireCredentialNames,
  withWarning,
  type ComposeOptions,
  type FetchedImage,
} from './common.js';
import { splitThread, type ThreadOptions } from './thread.js';
import type { SocialDeps } from './tokens.js';
import type { SniffedType } from '../../net/sniff.js';
import { followUpAlert } from '../../domain/follow-up.js';

/** Options every provider has (src/channels/social/common.ts baseOptionsShape). */
export interface BaseOptions extends Omit<ComposeOptions, 'describeImage' | 'linkPlacement'> {
  linkPlacement?: ComposeOptions['linkPlacement'];
  numbering: boolean;
  imageRequired: boolean;
  timeoutMs: number;
}

/**
 * What every social account shares, so that an adapter is only what is particular to its
 * provider: options and credentials checked at start, the alert split into parts by the
 * provider's length rule, the lead image fetched once with an honest note when it is left out,
 * and a health check that always answers.
 */
export abstract class SocialAccount<O extends BaseOptions> {
  readonly id: string;
  protected readonly options: O;
  protected readonly credentials: Credentials;
  /** The provider's API root without a trailing slash: `baseUrl` from the config, else the provider's own. */
  protected readonly base: string;

  protected constructor(
    account: SocialAccountConfig,
    env: NodeJS.ProcessEnv,
    schema: z.ZodType<O>,
    private readonly requiredCredentials: (options: O) => string[],
    protected readonly deps: SocialDeps = {},
    defaultBase = '',
  ) {
    this.id = account.id;
    this.base = (account.baseUrl ?? defaultBase).replace(/\/$/, '');
    this.options = parseAccountOptions(account, schema);
    this.credentials = new Credentials(account, env);
    requireCredentialNames(account, requiredCredentials(this.options));
  }

  abstract readonly provider: string;

  /** Every request of one part (image fetch, upload, post, polling) fits in this. */
  get partDeadlineMs(): number {
    return this.options.timeoutMs * 4;
  }

  /** The alert's text split into parts by `length` and `limit`, with the lead image on the first. */
  protected splitAlert(
    alert: Alert,
    thread: Pick<ThreadOptions, 'length' | 'limit'>,
    compose: Partial<ComposeOptions> = {},
    followUp?: FollowUp,
  ): Array<Pick<RenderedPart, 'text' | 'media'>> {
    // A follow-up is short: what it is, what changed or why, and the link; never a long thread.
    const source = followUp ? followUpAlert(alert, followUp) : alert;
    const composed = composeAlert(source, { linkPlacement: 'last', ...this.options, ...compose, ...(followUp ? { content: 'summary' as const } : {}) });
    const texts = splitThread(composed.paragraphs, {
      ...thread,
      locale: alert.language,
      firstSuffix: composed.firstSuffix,
      numbering: this.options.numbering,
    });
    return texts.map((text, i) => ({ text, ...(i === 0 && source.image ? { media: { url: source.image.url, alt: source.image.alt } } : {}) }));
  }

  protected message(parts: RenderedPart[]): RenderedMessage {
    return { channel: this.id, provider: this.provider, parts };
  }

  /**
   * Fetches the part's image and hands it to `upload`. When the image cannot be used, the part goes
   * out without it and carries a note, unless the account requires images.
   */
  protected async withImage<T>(
    part: RenderedPart,
    fetchOptions: { maxBytes: number; types?: readonly SniffedType[] },
    upload: (image: FetchedImage, media: { url: string; alt: string }) => Promise<T>,
    signal: AbortSignal,
  ): Promise<{ uploaded?: T; warning?: string }> {
    if (!part.media) return {};
    try {
      // Only through the guarded fetcher: the URL is alert content (src/net/guarded-fetch.ts).
      const image = await fetchImage(this.deps.fetcher ?? defaultFetcher(), part.media.url, { ...fetchOptions, timeoutMs: this.options.timeoutMs, signal });
      return { uploaded: await upload(image, part.media) };
    } catch (err) {
      if (!(err instanceof ImageUnavailable)) throw err;
      return { warning: imageProblem(err, this.options.imageRequired, { channel: this.id, log: this.deps.log }) };
    }
  }

  protected noted(part: PostedPart, warning: string | undefined): PostedPart {
    return withWarning(part, warning);
  }

  async checkHealth(signal?: AbortSignal): Promise<HealthReport> {
    const checkedAt = new Date().toISOString();
    const unset = this.credentials.unset(this.requiredCredentials(this.options));
    if (unset.length) return { ok: false, checkedAt, detail: `not set: ${unset.join(', ')}` };
    try {
      return { checkedAt, ...(await this.inspect(signal)) };
    } catch (err) {
      const e = err instanceof DeliveryError ? err : new DeliveryError('transient', errorText(err));
      return {
        ok: false,
        checkedAt,
        detail: `${e.options.credentials ? 'credentials rejected' : e.kind === 'transient' ? 'unreachable' : e.kind}: ${e.message}`,
      };
    }
  }

  /** The provider's own credential check: who the account is, what it may do, when it expires. */
  protected abstract inspect(signal?: AbortSignal): Promise<Omit<HealthReport, 'checkedAt'>>;
}
