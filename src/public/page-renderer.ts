import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import type { Config } from '../config/schema.js';
import { templatesDir } from '../paths.js';

// The public pages' templates (templates/pages/site/). Handlebars escapes every value; the only
// unescaped inserts are the page content itself, the body HTML from our Markdown renderer (raw HTML
// off, links validated) and JSON-LD written by jsonForHtml.

const dir = `${templatesDir('pages')}site/`;
const PARTIALS = ['card', 'subscribe-box'] as const;

export interface HeadData {
  description: string;
  canonical: string;
  ogTitle: string;
  ogType: 'website' | 'article';
  image?: { url: string; alt: string };
  alternates: Array<{ type: string; title: string; href: string }>;
  jsonLd: string;
  published?: string;
  modified?: string;
}

export interface PageData {
  title: string;
  lang?: string;
  head: HeadData;
  nav?: { home?: boolean; archive?: boolean };
  content: Record<string, unknown>;
}

export class PageRenderer {
  private readonly handlebars = Handlebars.create();
  private readonly templates = new Map<string, HandlebarsTemplateDelegate>();
  /** The stylesheet with the organisation's colours, and its content-addressed URL. */
  readonly css: string;
  readonly cssHref: string;

  constructor(private readonly config: Config) {
    for (const name of PARTIALS) this.handlebars.registerPartial(name, readFileSync(`${dir}${name}.hbs`, 'utf8'));
    const colours = config.organisation.colours;
    this.css = readFileSync(`${dir}site.css`, 'utf8')
      .replace('--primary: #1d3557', `--primary: ${colours.primary}`)
      .replace('--watch: #b08900', `--watch: ${colours.watch}`)
      .replace('--warning: #c2410c', `--warning: ${colours.warning}`)
      .replace('--emergency: #b91c1c', `--emergency: ${colours.emergency}`);
    this.cssHref = `/assets/site-${createHash('sha256').update(this.css).digest('hex').slice(0, 16)}.css`;
  }

  private template(name: string): HandlebarsTemplateDelegate {
    let fn = this.templates.get(name);
    if (!fn) {
      fn = this.handlebars.compile(readFileSync(`${dir}${name}.hbs`, 'utf8'), { strict: false });
      this.templates.set(name, fn);
    }
    return fn;
  }

  /** A template without the layout (the HTML content of feed entries). */
  fragment(name: string, data: Record<string, unknown>): string {
    return this.template(name)({ ...data, org: this.config.organisation });
  }

  render(name: string, page: PageData): string {
    const org = this.config.organisation;
    const content = this.template(name)({ ...page.content, org });
    return this.template('layout')({
      content,
      title: page.title,
      lang: page.lang ?? 'en',
      head: page.head,
      nav: page.nav ?? {},
      org,
      cssHref: this.cssHref,
      follow: this.config.public.follow,
    });
  }
}
