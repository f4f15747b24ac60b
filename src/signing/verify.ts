import { DOMParser } from '@xmldom/xmldom';
import type { Context } from '../context.js';
import { errors } from '../errors.js';
import { canonicalJson } from './canonical.js';
import { checkCapSignature } from './cap-signer.js';
import type { AlertVersion } from '../store/versions.js';
import { dateForPeople } from '../public/text.js';
import { alertPageUrl } from '../domain/alert-link.js';

// What /verify and POST /api/verify answer (README "Signatures and verification"): is this an
// authentic alert from us, which version, and was it later corrected or retracted. A URL is only
// ever looked up here, in our own public record; nothing is fetched from anywhere.

export type VerifyInput = { url: string } | { json: unknown; signature?: unknown } | { cap: string };

export type Verdict = 'authentic' | 'not-from-us' | 'not-ours-to-check' | 'not-found' | 'unsigned';

export interface VerifyAnswer {
  verdict: Verdict;
  /** One sentence a reader can quote. */
  headline: string;
  /** Further sentences: which version, when, what happened later. */
  details: string[];
  alert?: { id: string; slug: string; title: string; url: string };
  version?: number;
  versions?: number;
  issuedAt?: string;
  publishedAt?: string;
  /** The latest version's status, when it is later than the one checked. */
  later?: { status: 'corrected' | 'retracted'; version: number; at: string; note?: string; reason?: string };
}

type Signature = { kid: string; alg: string; sig: string };

/** The signature in whichever form it was pasted: a .sig file, a webhook header, or its parts. */
export function readSignature(value: unknown): Signature {
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (typeof o.kid === 'string' && typeof o.sig === 'string') return { kid: o.kid, alg: typeof o.alg === 'string' ? o.alg : 'EdDSA', sig: o.sig };
    throw errors.BODY_INVALID('signature: must have "kid" and "sig" (the contents of the .sig file next to the alert)');
  }
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw errors.BODY_INVALID('signature: is not valid JSON (paste the whole .sig file, or the Tocsin-Alert-Signature header)');
      }
      return readSignature(parsed);
    }
    const parts = Object.fromEntries(text.split(',').map((kv) => kv.trim().split('=', 2) as [string, string]));
    if (parts.kid && parts.sig) return { kid: parts.kid, alg: parts.alg ?? 'EdDSA', sig: parts.sig };
  }
  throw errors.BODY_INVALID('signature: is missing; paste the .sig file next to the alert, or the Tocsin-Alert-Signature header of the webhook');
}

/** The signed document and signature from what was pasted: {document, signature}, a webhook body, or the document with `signature` given apart. */
function readPasted(json: unknown, signature: unknown): { document: Record<string, unknown>; signature: Signature } {
  let value = json;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value);
    } catch (err) {
      throw errors.BODY_INVALID(`json: is not valid JSON (${(err as Error).message})`);
    }
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw errors.BODY_INVALID("json: must be a JSON object: the alert's signed .json file");
  const o = value as Record<string, unknown>;
  // A webhook body: the signed document is its `signed` member.
  const doc = (o.signed && typeof o.signed === 'object' ? o.signed : o.document && typeof o.document === 'object' ? o.document : o) as Record<string, unknown>;
  const sig = signature ?? o.signature;
  return { document: doc, signature: readSignature(sig) };
}

export class Verifier {
  constructor(private readonly ctx: Pick<Context, 'config' | 'signing' | 'versions' | 'redis' | 'keys'>) {}

  private get org(): string {
    return this.ctx.config.organisation.name;
  }

  private get origin(): string {
    return new URL(this.ctx.config.http.publicUrl).origin;
  }

  async verify(input: VerifyInput): Promise<VerifyAnswer> {
    if (!this.ctx.signing.signer) throw errors.SIGNING_OFF();
    if ('url' in input) return this.verifyUrl(input.url);
    if ('cap' in input) return this.verifyCap(input.cap);
    return this.verifyJson(input.json, input.signature);
  }

  private notFromUs(reason: string): VerifyAnswer {
    return { verdict: 'not-from-us', headline: `Not from us: this is not an authentic alert from ${this.org}.`, details: [reason] };
  }

  async verifyUrl(raw: string): Promise<VerifyAnswer> {
    let url: URL;
    try {
      url = new URL(raw.trim());
    } catch {
      throw errors.BODY_INVALID('url: is not a web address (it should start with https:// or http://)');
    }
    if (url.origin !== this.origin) {
      return {
        verdict: 'not-ours-to-check',
        headline: `This page verifies only links to ${this.origin}.`,
        details: [
          `The link you gave is on ${url.host}, not on ${new URL(this.origin).host}. We do not open links to other sites. If someone says it is an alert from ${this.org}, ask for the link to it on ${this.origin}, or paste the alert's signed JSON here.`,
        ],
      };
    }
    const m =
      /^\/(?:alerts\/([a-z0-9]+(?:-[a-z0-9]+)*)(?:\/v\/([1-9]\d{0,5}))?(?:\.json|\.sig)?|cap\/([a-z0-9]+(?:-[a-z0-9]+)*)(?:\/v([1-9]\d{0,5}))?\.xml)\/?$/.exec(
        url.pathname,
      );
    const slug = m?.[1] ?? m?.[3];
    const n = m?.[2] ?? m?.[4];
    const alertId = slug ? await this.ctx.redis.hget(this.ctx.keys.publicSlugs(), slug) : null;
    const versions = alertId ? await this.ctx.versions.all(alertId) : [];
    const version = n ? versions[Number(n) - 1] : versions[versions.length - 1];
    if (!version) {
      return {
        verdict: 'not-found',
        headline: `We have no published alert at this address.`,
        details: [
          `${url.href} is on our site, but no alert has been published there. An alert shared with this link did not come from ${this.org}, or the link is mistyped.`,
        ],
      };
    }
    if (!version.signature) return this.unsigned(version, versions);
    return this.checked(version.signature.document, version.signature, versions, version);
  }

  async verifyJson(json: unknown, signature: unknown): Promise<VerifyAnswer> {
    const pasted = readPasted(json, signature);
    let document: string;
    try {
      document = canonicalJson(pasted.document);
    } catch {
      throw errors.BODY_INVALID('json: is not a JSON document that can be put in canonical form');
    }
    const id = typeof pasted.document.id === 'string' ? pasted.document.id : '';
    const versions = /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id) ? await this.ctx.versions.all(id) : [];
    const n = typeof pasted.document.version === 'number' ? pasted.document.version : 0;
    return this.checked(document, pasted.signature, versions, versions[n - 1]);
  }

  async verifyCap(xml: string): Promise<VerifyAnswer> {
    const cap = this.ctx.signing.cap;
    if (!cap) throw errors.SIGNING_OFF();
    const check = checkCapSignature(xml, [cap.publicKey, ...cap.retired]);
    if (check.outcome === 'unsigned')
      return this.notFromUs(
        `This CAP message has no signature. Every CAP message ${this.org} publishes is signed, so this one was not published by us, or was changed.`,
      );
    if (check.outcome !== 'valid')
      return this.notFromUs(
        `This CAP message's signature does not match (${check.detail}). It was changed after it was signed, or it was not signed by ${this.org}.`,
      );
    // Read only what the signature covers.
    const doc = new DOMParser().parseFromString(check.signedXml, 'text/xml');
    const identifier = doc.getElementsByTagName('identifier')[0]?.textContent ?? '';
    const m = /([0-9A-HJKMNP-TV-Z]{26})-v(\d+)$/.exec(identifier);
    const versions = m ? await this.ctx.versions.all(m[1]) : [];
    const version = m ? versions[Number(m[2]) - 1] : undefined;
    if (!version) return this.notFromUs(`The CAP message is signed with our key, but names an alert (${identifier}) that is not in our public record.`);
    return this.describe(version, versions, `The CAP message's XML Signature is ${this.org}'s.`);
  }

  private checked(document: string, signature: Signature, versions: AlertVersion[], version: AlertVersion | undefined): VerifyAnswer {
    if (signature.alg !== 'EdDSA') return this.notFromUs(`The signature's algorithm is "${signature.alg}"; ${this.org} signs with EdDSA (Ed25519) only.`);
    const outcome = this.ctx.signing.signer!.verify(document, signature.kid, signature.sig);
    if (outcome === 'unknown-key')
      return this.notFromUs(
        `It is signed with a key ${this.org} has never used (key id ${signature.kid.slice(0, 60)}). Our keys are listed at ${this.origin}/.well-known/jwks.json.`,
      );
    if (outcome === 'invalid')
      return this.notFromUs(
        `The signature does not match this text: the alert was changed after it was signed (even one letter or date changes it), or it was never signed by ${this.org}.`,
      );
    if (!version || version.signature?.document !== document) {
      // Signed by us, but not (or no longer) in this server's record: still ours; say what we can.
      return {
        verdict: 'authentic',
        headline: `Authentic: this alert was signed by ${this.org}.`,
        details: ['We could not find it in our public record on this server, so we cannot say whether it was later corrected or retracted.'],
      };
    }
    return this.describe(version, versions, `Its signature is ${this.org}'s.`);
  }

  private unsigned(version: AlertVersion, versions: AlertVersion[]): VerifyAnswer {
    const answer = this.describe(version, versions, '');
    return {
      ...answer,
      verdict: 'unsigned',
      headline: `This alert is on our site, but this version was published before ${this.org} signed alerts.`,
      details: answer.details.filter(Boolean),
    };
  }

  private describe(version: AlertVersion, versions: AlertVersion[], lead: string): VerifyAnswer {
    const a = version.alert;
    const latest = versions[versions.length - 1];
    const url = alertPageUrl(this.ctx.config.http.publicUrl, versions[0]?.alert.slug ?? a.slug);
    const kindWords = version.kind === 'original' ? 'the original alert' : version.kind === 'correction' ? 'a correction' : 'the retraction';
    const details = [
      lead,
      `It is “${a.title}”, version ${version.version} of ${versions.length} (${kindWords}), issued ${dateForPeople(a.issuedAt)} and published ${dateForPeople(version.at)}.`,
    ];
    if (version.kind === 'correction' && version.note) details.push(`This version corrected the alert: ${version.note}`);
    if (version.kind === 'retraction' && version.reason) details.push(`This version retracted the alert because: ${version.reason}`);
    let later: VerifyAnswer['later'];
    const retraction = versions.find((v) => v.kind === 'retraction' && v.version > version.version);
    const correction = [...versions].reverse().find((v) => v.kind === 'correction' && v.version > version.version);
    if (retraction) {
      later = { status: 'retracted', version: retraction.version, at: retraction.at, ...(retraction.reason ? { reason: retraction.reason } : {}) };
      details.push(`It was later RETRACTED on ${dateForPeople(retraction.at)} because: ${retraction.reason ?? 'no reason given'}. Do not rely on it.`);
    } else if (correction) {
      later = { status: 'corrected', version: correction.version, at: correction.at, ...(correction.note ? { note: correction.note } : {}) };
      details.push(`It was later CORRECTED on ${dateForPeople(correction.at)}: ${correction.note ?? ''} Read the current version at ${url}.`);
    } else if (version === latest) {
      details.push(
        version.kind === 'retraction' ? 'The alert stands retracted.' : 'This is the current version: it has not been corrected or retracted since.',
      );
    }
    return {
      verdict: 'authentic',
      headline: `Authentic: this is an alert from ${this.org}.`,
      details: details.filter(Boolean),
      alert: { id: a.id, slug: versions[0]?.alert.slug ?? a.slug, title: a.title, url },
      version: version.version,
      versions: versions.length,
      issuedAt: a.issuedAt,
      publishedAt: version.at,
      ...(later ? { later } : {}),
    };
  }
}
