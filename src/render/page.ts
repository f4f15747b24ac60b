import { readFileSync } from 'node:fs';
import { templatesDir } from '../paths.js';
import Handlebars from 'handlebars';
import type { Config } from '../config/schema.js';

// Public pages: server-rendered, no JavaScript needed, every value escaped by Handlebars.
const pagesDir = templatesDir('pages');
const handlebars = Handlebars.create();
const cache = new Map<string, HandlebarsTemplateDelegate>();

function compile(name: string): HandlebarsTemplateDelegate {
  let fn = cache.get(name);
  if (!fn) {
    fn = handlebars.compile(readFileSync(`${pagesDir}${name}.hbs`, 'utf8'), { strict: false });
    cache.set(name, fn);
  }
  return fn;
}

export function renderPage(config: Config, name: string, title: string, data: Record<string, unknown> = {}, lang = 'en'): string {
  const org = config.organisation;
  const content = compile(name)({ ...data, org });
  return compile('layout')({ content, title, org, lang });
}

export function messagePage(config: Config, heading: string, message: string, isError = false): string {
  return renderPage(config, 'message', heading, { heading, message, isError });
}
