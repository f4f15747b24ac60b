import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Handlebars from 'handlebars';
import { templatesDir } from '../paths.js';

// The email templates in templates/email/, compiled once, and MJML. HTML templates escape every
// value; plain-text templates (*.txt.hbs) do not, because "&" must stay "&" in text.

export const EMAIL_TEMPLATES_DIR = templatesDir('email');

const handlebars = Handlebars.create();
handlebars.registerHelper('inc', (n: number) => n + 1);
handlebars.registerPartial('subscriptionLayout', readFileSync(`${EMAIL_TEMPLATES_DIR}subscription-layout.mjml.hbs`, 'utf8'));

const compiled = new Map<string, HandlebarsTemplateDelegate>();

export const emailTemplateExists = (fileName: string): boolean => existsSync(EMAIL_TEMPLATES_DIR + fileName);

export function emailTemplate(fileName: string): HandlebarsTemplateDelegate {
  let fn = compiled.get(fileName);
  if (!fn) {
    fn = handlebars.compile(readFileSync(EMAIL_TEMPLATES_DIR + fileName, 'utf8'), { noEscape: fileName.endsWith('.txt.hbs'), strict: false });
    compiled.set(fileName, fn);
  }
  return fn;
}

// MJML 5 renders asynchronously (there is no synchronous form). It is loaded on first use: it is
// large, and most CLI commands never render an email.
type Mjml = typeof import('mjml');
let mjml: Mjml | undefined;

export async function mjmlToHtml(source: string, what: string): Promise<string> {
  mjml ??= createRequire(import.meta.url)('mjml') as Mjml;
  const { html, errors } = await mjml(source, { validationLevel: 'soft', keepComments: false });
  if (errors.length > 0 && !html) throw new Error(`${what} template: ${errors.map((e) => e.formattedMessage).join('; ')}`);
  return html;
}
