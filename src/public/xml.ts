import { clean } from './text.js';

// A small XML writer for feeds, CAP and the sitemap. Every text and attribute value is escaped in
// full, and characters XML 1.0 cannot carry are removed (clean), so alert text can never end a
// CDATA section or become markup. Why not a library: `feed` writes wrong enclosure types, one
// enclosure per RSS item and JSON Feed 1.0 only; xmlbuilder2 leaves "&lt;" in a text unescaped
// (it takes it for an entity), which would turn escaped HTML inside a feed entry back into markup.
// Our hostile-content tests caught that; this writer escapes every "&".

export function escapeText(text: string): string {
  return clean(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function escapeAttribute(value: string): string {
  return escapeText(value).replace(/"/g, '&quot;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

const NAME = /^[A-Za-z_][\w.-]*(?::[A-Za-z_][\w.-]*)?$/;

export class XmlElement {
  private readonly children: Array<XmlElement | string> = [];
  private readonly attributes: Array<[string, string]> = [];

  constructor(
    readonly name: string,
    attributes: Record<string, string | number | undefined> = {},
    private readonly namespaces: Map<string, string> = new Map(),
  ) {
    if (!NAME.test(name)) throw new Error(`not an XML name: ${name}`);
    for (const [k, v] of Object.entries(attributes)) if (v !== undefined) this.attributes.push([k, String(v)]);
    for (const [k, v] of this.attributes) {
      if (k === 'xmlns') this.namespaces.set('', v);
      else if (k.startsWith('xmlns:')) this.namespaces.set(k.slice(6), v);
    }
  }

  /** Adds a child element and returns it. With a namespace, declares it here unless an ancestor did. */
  ele(
    nameOrNamespace: string,
    nameOrAttributes?: string | Record<string, string | number | undefined>,
    maybeAttributes?: Record<string, string | number | undefined>,
  ): XmlElement {
    const namespaced = typeof nameOrAttributes === 'string';
    const name = namespaced ? nameOrAttributes : nameOrNamespace;
    const attributes = { ...((namespaced ? maybeAttributes : nameOrAttributes) ?? {}) };
    if (namespaced) {
      const prefix = name.includes(':') ? name.split(':')[0] : '';
      if (this.namespaces.get(prefix) !== nameOrNamespace) attributes[prefix ? `xmlns:${prefix}` : 'xmlns'] = nameOrNamespace;
    }
    const child = new XmlElement(name, attributes, new Map(this.namespaces));
    this.children.push(child);
    return child;
  }

  txt(text: string): XmlElement {
    this.children.push(text);
    return this;
  }

  toString(indent = ''): string {
    const attrs = this.attributes.map(([k, v]) => ` ${k}="${escapeAttribute(v)}"`).join('');
    if (!this.children.length) return `${indent}<${this.name}${attrs}/>`;
    if (this.children.every((c) => typeof c === 'string')) return `${indent}<${this.name}${attrs}>${escapeText(this.children.join(''))}</${this.name}>`;
    const inner = this.children.map((c) => (typeof c === 'string' ? `${indent}  ${escapeText(c)}` : c.toString(`${indent}  `))).join('\n');
    return `${indent}<${this.name}${attrs}>\n${inner}\n${indent}</${this.name}>`;
  }
}

export type XMLBuilder = XmlElement;

/** Starts a document; its first `ele` is the root element. */
export function xmlDocument(): { ele: XmlElement['ele'] } {
  return {
    ele: (a, b, c) => new XmlElement('root').ele(a, b, c),
  };
}

/** Adds <name>text</name> and returns the parent for chaining. */
export function textElement(parent: XmlElement, name: string, text: string, attributes: Record<string, string> = {}): XmlElement {
  parent.ele(name, attributes).txt(text);
  return parent;
}

/** Attributes without the undefined ones (values are escaped when written). */
export function cleanAttributes(attributes: Record<string, string | number | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) if (v !== undefined) out[k] = String(v);
  return out;
}

export function serialise(root: XmlElement): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${root.toString()}\n`;
}
