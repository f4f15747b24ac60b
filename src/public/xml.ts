import { create } from 'xmlbuilder2';
import type { XMLBuilder } from 'xmlbuilder2/lib/interfaces.js';
import { clean } from './text.js';

// XML for feeds, CAP and the sitemap is built with xmlbuilder2 (maintained, namespace-aware): it
// escapes every text and attribute value, so alert text never needs CDATA and "]]>" is only text.
// Characters XML cannot carry are removed first (clean), and again by the builder as a backstop.

export type { XMLBuilder };

export function xmlDocument(): XMLBuilder {
  return create({ version: '1.0', encoding: 'UTF-8', invalidCharReplacement: '' });
}

/** Adds <name>text</name> with the text cleaned, and returns the parent for chaining. */
export function textElement(parent: XMLBuilder, name: string, text: string, attributes: Record<string, string> = {}): XMLBuilder {
  parent.ele(name, cleanAttributes(attributes)).txt(clean(text));
  return parent;
}

export function cleanAttributes(attributes: Record<string, string | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = clean(String(v));
  return out;
}

export function serialise(doc: XMLBuilder): string {
  return doc.end({ prettyPrint: true }) + '\n';
}
