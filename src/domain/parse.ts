import { parse as parseYaml, YAMLParseError } from 'yaml';
import { alertInputSchema } from './alert.js';
import type { z } from 'zod';
import { errors, formatZodIssues } from '../errors.js';

export type ValidAlertInput = z.output<typeof alertInputSchema>;
export const MAX_ALERT_SOURCE_BYTES = 512 * 1024;

const FRONT_MATTER = /^\uFEFF?---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)([\s\S]*)$/;

/** Validates an alert given as an object (JSON body, parsed front matter). */
export function parseAlertObject(value: unknown): ValidAlertInput {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw errors.ALERT_INVALID('(root): must be an object');
  const result = alertInputSchema.safeParse(value);
  if (!result.success) throw errors.ALERT_INVALID(formatZodIssues(result.error.issues));
  return result.data;
}

/** Markdown with YAML front matter: the front matter holds fields, the rest is the body. */
export function parseAlertMarkdown(source: string): ValidAlertInput {
  if (Buffer.byteLength(source) > MAX_ALERT_SOURCE_BYTES) throw errors.ALERT_INVALID(`(file): larger than ${MAX_ALERT_SOURCE_BYTES} bytes`);
  const match = FRONT_MATTER.exec(source);
  if (!match) throw errors.ALERT_INVALID('(file): must start with YAML front matter between two "---" lines');
  let front: unknown;
  try {
    front = parseYaml(match[1], { maxAliasCount: 10 });
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line + 1}` : '';
    throw errors.ALERT_INVALID(`(front matter)${where}: ${(err as Error).message.split('\n')[0]}`);
  }
  if (typeof front !== 'object' || front === null || Array.isArray(front)) throw errors.ALERT_INVALID('(front matter): must be a mapping of fields');
  if ('body' in front) throw errors.ALERT_INVALID('body: write the body below the front matter, not as a field');
  return parseAlertObject({ ...front, body: match[2].trim() });
}

/** By file name: .json is JSON, anything else Markdown with front matter. */
export function parseAlertFile(name: string, source: string): ValidAlertInput {
  if (!name.toLowerCase().endsWith('.json')) return parseAlertMarkdown(source);
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch (err) {
    throw errors.ALERT_INVALID(`(file): not valid JSON: ${(err as Error).message}`);
  }
  return parseAlertObject(value);
}
