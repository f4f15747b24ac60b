import { readFileSync, readdirSync } from 'node:fs';
import Handlebars from 'handlebars';
import type { Config } from '../config/schema.js';
import type { ConsoleSession } from './session.js';
import { hasRole } from './roles.js';
import { templatesDir } from '../paths.js';

// Console pages: Handlebars templates under templates/console, server-rendered, every value escaped.
// Scripts are small progressive enhancements read from templates/console/scripts and inlined with
// the response's CSP nonce; pages work without them.

// From the package root, not from this file: the compiled file lives in dist/src/console/.
const dir = templatesDir('console');
const hbs = Handlebars.create();

const STATUS_LABELS: Record<string, string> = {
  draft: 'Draft',
  approved: 'Approved',
  scheduled: 'Scheduled',
  publishing: 'Publishing',
  halted: 'Halted',
  published: 'Published',
  corrected: 'Corrected',
  retracted: 'Retracted',
  queued: 'Queued',
  sending: 'Sending',
  retrying: 'Retrying',
  sent: 'Sent',
  failed: 'Failed',
  unknown: 'Unknown',
  skipped: 'Skipped',
};
const LEVEL_LABELS: Record<string, string> = { watch: 'Watch', warning: 'Warning', emergency: 'Emergency' };

export function formatDate(value: unknown): string {
  if (value === undefined || value === null || value === '') return '';
  const d = typeof value === 'number' ? new Date(value < 1e12 ? value * 1000 : value) : new Date(String(value as string | Date));
  return Number.isNaN(d.getTime()) ? '' : `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

const STATUS_ICONS: Record<string, string> = {
  draft: '✎',
  approved: '✔',
  scheduled: '⏲',
  publishing: '⟳',
  halted: '‖',
  published: '✔',
  corrected: '✎',
  retracted: '⊘',
  queued: '…',
  sending: '→',
  retrying: '↻',
  sent: '✔',
  failed: '✖',
  unknown: '?',
  skipped: '–',
};

hbs.registerHelper('statusIcon', (s: string) => STATUS_ICONS[s] ?? '•');
hbs.registerHelper('segWidth', (n: number, total: number) => (total > 0 ? ((n * 100) / total).toFixed(2) : '0'));
hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
hbs.registerHelper('ne', (a: unknown, b: unknown) => a !== b);
hbs.registerHelper('or', (...args: unknown[]) => args.slice(0, -1).some(Boolean));
hbs.registerHelper('and', (...args: unknown[]) => args.slice(0, -1).every(Boolean));
hbs.registerHelper('not', (a: unknown) => !a);
hbs.registerHelper('statusLabel', (s: string) => STATUS_LABELS[s] ?? s);
hbs.registerHelper('levelLabel', (l: string | null) => (l ? (LEVEL_LABELS[l] ?? l) : 'Report (no level)'));
hbs.registerHelper('date', formatDate);
hbs.registerHelper('iso', (v: unknown) => {
  const d = typeof v === 'number' ? new Date(v < 1e12 ? v * 1000 : v) : new Date(String((v ?? '') as string | Date));
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
});
hbs.registerHelper('join', (list: unknown, sep: unknown) => (Array.isArray(list) ? list.join(typeof sep === 'string' ? sep : ', ') : ''));
hbs.registerHelper('plural', (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`);
hbs.registerHelper('includes', (list: unknown, v: unknown) => Array.isArray(list) && list.map(String).includes(String(v)));

let loaded = false;
const pages = new Map<string, HandlebarsTemplateDelegate>();
const scripts = new Map<string, string>();

function load(): void {
  if (loaded) return;
  for (const file of readdirSync(`${dir}partials`)) {
    if (file.endsWith('.hbs')) hbs.registerPartial(file.slice(0, -4), readFileSync(`${dir}partials/${file}`, 'utf8'));
  }
  for (const file of readdirSync(`${dir}scripts`)) {
    if (file.endsWith('.js')) scripts.set(file.slice(0, -3), readFileSync(`${dir}scripts/${file}`, 'utf8'));
  }
  loaded = true;
}

function page(name: string): HandlebarsTemplateDelegate {
  load();
  let fn = pages.get(name);
  if (!fn) {
    fn = hbs.compile(readFileSync(`${dir}${name}.hbs`, 'utf8'), { strict: false });
    pages.set(name, fn);
  }
  return fn;
}

export interface PageFrame {
  title: string;
  session?: ConsoleSession;
  /** CSRF token for the forms on this page (and the sign-out form). */
  csrf: string;
  nonce: string;
  /** Which nav entry is current. */
  nav?: string;
  /** Names of scripts from templates/console/scripts to inline. */
  scripts?: string[];
  notice?: string;
}

export function can(session: ConsoleSession | undefined) {
  return {
    edit: Boolean(session && hasRole(session.role, 'editor')),
    publish: Boolean(session && hasRole(session.role, 'publisher')),
  };
}

/** A whole page inside the console layout. */
export function renderConsolePage(config: Config, name: string, frame: PageFrame, data: Record<string, unknown> = {}): string {
  const shared = { org: config.organisation, csrf: frame.csrf, session: frame.session, can: can(frame.session), approvals: config.approvals };
  const content = page(name)({ ...data, ...shared });
  const script = (frame.scripts ?? []).map((s) => scripts.get(s) ?? '').join('\n');
  return page('layout')({ ...shared, ...frame, content, script });
}

/** A template without the layout (fragments fetched by the page scripts). */
export function renderFragment(config: Config, name: string, data: Record<string, unknown>, session?: ConsoleSession, csrf = ''): string {
  return page(name)({ ...data, org: config.organisation, csrf, session, can: can(session), approvals: config.approvals });
}
