import type { Config } from '../../config/schema.js';
import { countryName } from '../../domain/countries.js';
import { alertLink } from '../../domain/alert-link.js';
import type { PublicAlert } from '../../domain/public-alert.js';
import { markdownToText } from '../../render/markdown.js';
import type { AlertVersion } from '../../store/versions.js';
import { imageType } from '../feeds/feed-model.js';
import { clean, cleanDeep } from '../text.js';
import { serialise, textElement, xmlDocument, type XMLBuilder } from '../xml.js';

// One CAP 1.2 message per published version (README "CAP 1.2" has the mapping table): version 1
// is an Alert, a correction an Update and a retraction a Cancel, each referencing the message
// before it. Element order follows the OASIS schema, which is a strict sequence.

export const CAP_NS = 'urn:oasis:names:tc:emergency:cap:1.2';

/**
 * Signs a finished message: an enveloped XML-DSig (src/signing/cap-signer.ts), which the schema takes
 * as the last child of <alert>. `unsigned` is for `signing.enabled: false`.
 */
export type CapSigner = (xml: string) => string;
export const unsigned: CapSigner = (xml) => xml;

export interface CapMessageRef {
  sender: string;
  identifier: string;
  sent: string;
}

/** One <info> block: one per language. An alert has one language today; translations add more. */
export interface CapInfo {
  language: string;
  alert: PublicAlert;
}

export function capSender(config: Config): string {
  return config.public.cap.sender ?? new URL(config.http.publicUrl).hostname;
}

export function capIdentifier(config: Config, alertId: string, version: number): string {
  return `${config.public.cap.identifierPrefix}${alertId}-v${version}`;
}

/** CAP dates: seconds and an explicit offset ("+00:00", never "Z"), as the schema's pattern requires. */
export function capDate(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, '+00:00');
}

export function capRef(config: Config, alertId: string, version: Pick<AlertVersion, 'version' | 'at'>): CapMessageRef {
  return { sender: capSender(config), identifier: capIdentifier(config, alertId, version.version), sent: capDate(version.at) };
}

const refText = (r: CapMessageRef): string => `${r.sender},${r.identifier},${r.sent}`;

export interface CapContext {
  /** The version before this one, if any. */
  previous?: AlertVersion;
  /** For version 1 of an alert that updates or cancels another: that alert's latest message. */
  relatedMessage?: CapMessageRef;
  pageUrl: string;
}

export function msgTypeOf(version: AlertVersion, ctx: Pick<CapContext, 'relatedMessage'>): 'Alert' | 'Update' | 'Cancel' {
  if (version.kind === 'correction') return 'Update';
  if (version.kind === 'retraction') return 'Cancel';
  // A new alert that updates or cancels an earlier one says so in CAP terms too.
  if (ctx.relatedMessage && version.alert.cancels) return 'Cancel';
  if (ctx.relatedMessage && version.alert.updates) return 'Update';
  return 'Alert';
}

function description(a: PublicAlert): string {
  const stages = a.stages.length ? `\n\nStages of genocide observed: ${a.stages.map((s) => `${s.number} (${s.name})`).join(', ')}.` : '';
  const body = markdownToText(a.body);
  return `${a.summary}${body ? `\n\n${body}` : ''}${stages}`;
}

function addInfo(alertEl: XMLBuilder, config: Config, info: CapInfo, ctx: CapContext): void {
  const a = info.alert;
  const levelConfig = config.public.cap.levels[a.level ?? 'report'];
  const el = alertEl.ele('info');
  textElement(el, 'language', info.language);
  textElement(el, 'category', 'Security');
  textElement(el, 'event', levelConfig.event);
  textElement(el, 'urgency', levelConfig.urgency);
  textElement(el, 'severity', levelConfig.severity);
  textElement(el, 'certainty', levelConfig.certainty);
  textElement(el, 'senderName', config.organisation.name);
  textElement(el, 'headline', a.title);
  textElement(el, 'description', description(a));
  if (a.recommendations.length) textElement(el, 'instruction', a.recommendations.map((r, i) => `${i + 1}. ${r}`).join('\n'));
  textElement(el, 'web', ctx.pageUrl);
  const parameter = (name: string, value: string) => {
    const p = el.ele('parameter');
    textElement(p, 'valueName', name);
    textElement(p, 'value', value);
  };
  parameter('alertLevel', a.level ?? 'report');
  if (a.stages.length) parameter('genocideStages', a.stages.map((s) => s.number).join(' '));
  if (a.image) {
    const r = el.ele('resource');
    textElement(r, 'resourceDesc', `Image: ${a.image.alt}${a.image.credit ? ` (Photo: ${a.image.credit})` : ''}`);
    textElement(r, 'mimeType', imageType(a.image.url));
    textElement(r, 'uri', a.image.url);
  }
  for (const att of a.attachments) {
    const r = el.ele('resource');
    textElement(r, 'resourceDesc', att.title);
    textElement(r, 'mimeType', att.mediaType ?? 'application/octet-stream');
    if (att.bytes !== undefined) textElement(r, 'size', String(att.bytes));
    textElement(r, 'uri', att.url);
  }
  for (const code of a.countries) {
    const area = el.ele('area');
    const name = countryName(code);
    textElement(area, 'areaDesc', a.region && a.countries.length === 1 ? `${name}: ${a.region}` : name);
    const geocode = area.ele('geocode');
    textElement(geocode, 'valueName', 'ISO 3166-1 alpha-2');
    textElement(geocode, 'value', code);
  }
}

/** The CAP 1.2 message for one version of an alert. */
export function capMessage(config: Config, version: AlertVersion, ctx: CapContext, sign: CapSigner = unsigned): string {
  const v = cleanDeep(version);
  const msgType = msgTypeOf(v, ctx);
  const references = ctx.previous ? capRef(config, v.alert.id, ctx.previous) : ctx.relatedMessage;
  const alertEl = xmlDocument().ele(CAP_NS, 'alert');
  textElement(alertEl, 'identifier', capIdentifier(config, v.alert.id, v.version));
  textElement(alertEl, 'sender', capSender(config));
  textElement(alertEl, 'sent', capDate(v.at));
  textElement(alertEl, 'status', 'Actual');
  textElement(alertEl, 'msgType', msgType);
  textElement(alertEl, 'scope', 'Public');
  const note = v.kind === 'correction' ? `Correction: ${v.note}` : v.kind === 'retraction' ? `Retracted: ${v.reason}` : undefined;
  if (note) textElement(alertEl, 'note', note);
  if (references) textElement(alertEl, 'references', refText(references));
  // Every version of one alert shares an incident, so aggregators can group them.
  textElement(alertEl, 'incidents', v.alert.id);
  for (const info of capInfos(v.alert)) addInfo(alertEl, config, info, ctx);
  return sign(serialise(alertEl));
}

/** The <info> blocks of an alert: one per language (one today). */
export function capInfos(alert: PublicAlert): CapInfo[] {
  return [{ language: alert.language, alert }];
}

export function capPageUrl(config: Config, alert: PublicAlert): string {
  return clean(alertLink(alert, config));
}
