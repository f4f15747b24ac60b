// Splits text into the parts of a thread, by the provider's own length rule.
//
// Rules, in order of preference:
//   1. Paragraphs and sentences stay whole: a part ends at a sentence boundary.
//   2. A sentence longer than a whole part is split between words.
//   3. A "word" longer than a whole part (a pasted hash, say) is split between graphemes.
// Nothing is ever dropped: joining the parts (without their "i/n" labels) gives back every word.
// The length function sees each part exactly as it will be posted, label included, so rules that
// are not additive (X counts every URL as 23, Mastodon too) are measured correctly.

export interface Paragraph {
  text: string;
  /** Start a new part here even if this paragraph would fit in the current one. */
  breakBefore?: boolean;
  /** What joins it to the paragraph before in the same part (default a blank line). */
  joinWith?: string;
}

export interface ThreadOptions {
  /** Length of a finished part by the provider's rule (weighted count, graphemes, ...). */
  length(text: string): number;
  /** Limit of part `index` (0-based); a function where the first part differs (photo captions). */
  limit: number | ((index: number) => number);
  /** Locale for sentence boundaries (the alert's language). */
  locale?: string;
  /** Text that must be in the first part (the link, when it is placed first). */
  firstSuffix?: string;
  /** Number the parts "1/5" when there are several (default true). */
  numbering?: boolean;
}

export class ThreadSplitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ThreadSplitError';
  }
}

interface Unit {
  text: string;
  /** Joins this unit to the previous one in the same part. */
  sep: string;
  breakBefore?: boolean;
  /** 0 = sentence, 1 = word, 2 = grapheme: how far it has been broken down. */
  level: 0 | 1 | 2;
}

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"]+/gi;

/** The "i/n" label, and how it is attached to a part. */
export function partLabel(index: number, total: number): string {
  return `${index + 1}/${total}`;
}

function decorate(text: string, index: number, total: number, opts: ThreadOptions): string {
  let out = text;
  if (index === 0 && opts.firstSuffix) out = out ? `${out}\n\n${opts.firstSuffix}` : opts.firstSuffix;
  if (opts.numbering !== false && total > 1) out = `${out} ${partLabel(index, total)}`;
  return out;
}

/** Sentences of one paragraph, keeping whether a line break or a space separated them. */
export function sentences(paragraph: string, locale = 'en'): Array<{ text: string; sep: string }> {
  const text = paragraph.replace(/[ \t]+/g, ' ').trim();
  if (!text) return [];
  // A URL is never broken, even where the sentence rules would see a full stop inside it.
  const urls: Array<[number, number]> = [];
  for (const m of text.matchAll(URL_PATTERN)) urls.push([m.index ?? 0, (m.index ?? 0) + m[0].length]);
  const insideUrl = (pos: number) => urls.some(([s, e]) => pos > s && pos < e);

  let segmenter: Intl.Segmenter;
  try {
    segmenter = new Intl.Segmenter(locale, { granularity: 'sentence' });
  } catch {
    segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
  }
  const out: Array<{ text: string; sep: string }> = [];
  let pending = '';
  let sepBefore = '';
  for (const seg of segmenter.segment(text)) {
    pending += seg.segment;
    const end = seg.index + seg.segment.length;
    if (end < text.length && insideUrl(end)) continue;
    // Break inside a line-broken paragraph too ("Recommendations:\n• ..."): ICU already does.
    const trimmed = pending.trim();
    if (trimmed) out.push({ text: trimmed, sep: sepBefore });
    const trailing = pending.slice(pending.trimEnd().length);
    sepBefore = trailing.includes('\n') ? '\n' : ' ';
    pending = '';
  }
  if (pending.trim()) out.push({ text: pending.trim(), sep: sepBefore });
  // Line breaks inside a sentence (a list written without full stops) stay as they are.
  return out;
}

function graphemes(text: string): string[] {
  return Array.from(new Intl.Segmenter('en', { granularity: 'grapheme' }).segment(text), (s) => s.segment);
}

/** Breaks a unit that cannot fit in an empty part into smaller ones; null if it cannot be. */
function breakDown(unit: Unit): Unit[] | null {
  if (unit.level === 0) {
    const pieces = unit.text.split(/(\s+)/);
    const words: Unit[] = [];
    let sep = unit.sep;
    for (let i = 0; i < pieces.length; i++) {
      if (i % 2 === 1) {
        sep = pieces[i].includes('\n') ? '\n' : ' ';
        continue;
      }
      if (!pieces[i]) continue;
      words.push({ text: pieces[i], sep, level: 1, breakBefore: words.length === 0 ? unit.breakBefore : undefined });
    }
    if (words.length > 1) return words;
    return breakDown({ ...unit, level: 1 });
  }
  if (unit.level === 1) {
    const gs = graphemes(unit.text);
    if (gs.length <= 1) return null;
    return gs.map((g, i) => ({ text: g, sep: i === 0 ? unit.sep : '', level: 2 as const, breakBefore: i === 0 ? unit.breakBefore : undefined }));
  }
  return null;
}

function pack(units: Unit[], total: number, opts: ThreadOptions): string[] {
  const limitOf = typeof opts.limit === 'number' ? () => opts.limit as number : opts.limit;
  const parts: string[] = [];
  const fits = (text: string, index: number) => opts.length(decorate(text, index, total, opts)) <= limitOf(index);
  const queue = [...units];
  let current = '';
  while (queue.length) {
    const unit = queue.shift() as Unit;
    if (unit.breakBefore && current) {
      parts.push(current);
      current = '';
    }
    const candidate = current ? current + unit.sep + unit.text : unit.text;
    if (fits(candidate, parts.length)) {
      current = candidate;
      continue;
    }
    // It does not fit after what the part already holds: it opens the next part.
    if (current) {
      parts.push(current);
      current = '';
      queue.unshift({ ...unit, breakBefore: false });
      continue;
    }
    const smaller = breakDown(unit);
    if (!smaller) {
      throw new ThreadSplitError(`part ${parts.length + 1} cannot hold even one character within its limit of ${limitOf(parts.length)}`);
    }
    queue.unshift(...smaller);
  }
  if (current || parts.length === 0) parts.push(current);
  return parts;
}

/**
 * Splits paragraphs into thread parts, each within its limit by `opts.length`, numbered "i/n"
 * when there are several. Throws ThreadSplitError only if a limit is too small for any text.
 */
export function splitThread(paragraphs: Array<string | Paragraph>, opts: ThreadOptions): string[] {
  const units: Unit[] = [];
  for (const raw of paragraphs) {
    const p = typeof raw === 'string' ? { text: raw } : raw;
    const ss = sentences(p.text, opts.locale);
    ss.forEach((s, i) =>
      units.push({ text: s.text, sep: i === 0 ? (p.joinWith ?? '\n\n') : s.sep, level: 0, breakBefore: i === 0 ? p.breakBefore : undefined }),
    );
  }
  // The "i/n" labels take room, and their width depends on the count: find the count that
  // reproduces itself (normally the first or second try).
  // A wider label never makes fewer parts, so the count only grows; if the last packing came out
  // shorter than the count it assumed, its narrower real labels fit all the more.
  let total = 1;
  let parts = pack(units, total, opts);
  while (parts.length > total) {
    total = parts.length;
    parts = pack(units, total, opts);
  }
  return parts.map((text, i) => decorate(text, i, parts.length, opts));
}

/** Removes the "i/n" label a part was given, for comparisons and for tests. */
export function stripLabel(text: string): string {
  return text.replace(/ \d+\/\d+$/, '');
}
