import MarkdownIt from 'markdown-it';

// Raw HTML is off: an alert body is written by staff but may quote hostile text, and it goes
// into every subscriber's inbox. Links are checked by markdown-it's validateLink (no javascript:).
const md = new MarkdownIt({ html: false, linkify: true, typographer: true, breaks: false });
// markdown-it 15 (linkify-it 6) no longer links bare domains such as example.org by default; alerts
// written for 14 relied on it, so it stays on.
md.linkify.set({ fuzzyLink: true });

const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx].attrSet('rel', 'noopener noreferrer');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

export function markdownToHtml(source: string): string {
  return md.render(source);
}

/** Markdown to readable plain text: keeps paragraphs, list markers and link targets. */
export function markdownToText(source: string): string {
  const tokens = md.parse(source, {});
  const lines: string[] = [];
  let line = '';
  let listDepth = 0;
  const ordered: number[] = [];
  for (const token of tokens) {
    switch (token.type) {
      case 'bullet_list_open':
        listDepth++;
        ordered.push(0);
        break;
      case 'ordered_list_open':
        listDepth++;
        ordered.push(1);
        break;
      case 'bullet_list_close':
      case 'ordered_list_close':
        listDepth--;
        ordered.pop();
        if (listDepth === 0) lines.push('');
        break;
      case 'list_item_open': {
        const n = ordered[ordered.length - 1];
        line = '  '.repeat(listDepth - 1) + (n ? `${n}. ` : '- ');
        if (n) ordered[ordered.length - 1] = n + 1;
        break;
      }
      case 'inline':
        line += inlineText(token.children ?? []);
        break;
      case 'paragraph_close':
      case 'heading_close':
        lines.push(line);
        line = '';
        if (listDepth === 0) lines.push('');
        break;
      case 'heading_open':
        line = '';
        break;
      case 'fence':
      case 'code_block':
        lines.push(token.content.trimEnd(), '');
        break;
      case 'hr':
        lines.push('----', '');
        break;
    }
  }
  return lines
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function inlineText(children: ReturnType<typeof md.parseInline>[number]['children'] & object): string {
  let out = '';
  let href: string | null = null;
  let linkText = '';
  for (const child of children) {
    if (child.type === 'link_open') {
      const attr = child.attrGet('href'); // markdown-it 15 types attributes as string | number
      href = attr === null ? null : String(attr);
      linkText = '';
    } else if (child.type === 'link_close') {
      out += href && href !== linkText ? `${linkText} (${href})` : linkText;
      href = null;
    } else if (child.type === 'text' || child.type === 'code_inline') {
      if (href !== null) linkText += child.content;
      else out += child.content;
    } else if (child.type === 'softbreak') {
      out += ' ';
    } else if (child.type === 'hardbreak') {
      out += '\n';
    } else if (child.type === 'image') {
      out += child.content ? `[${child.content}]` : '';
    }
  }
  return out;
}
