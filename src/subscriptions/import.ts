import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse';
import { z } from 'zod';
import type { Context } from '../context.js';
import { countriesPrefSchema, emailSchema, minLevelSchema, normaliseEmail } from '../domain/subscriber.js';
import { formatZodIssues, errors } from '../errors.js';
import { SubscriberImportWriter, type ImportOutcome, type ImportRow } from '../store/subscriber-import.js';
import { suppressionHash } from './suppression.js';

// CSV columns: email, countries ("KZ;UA", "KZ UA", or "*"), level (all|watch|warning|emergency).
// Rows stream from the file to Redis in batches: memory holds a batch, never the file. A bad row
// (including one with an oversized field) is reported with its line number and the rest go on.
// Duplicates merge in the stored record (store/subscriber-import.ts).

const rowSchema = z.object({
  email: emailSchema,
  countries: z
    .string()
    .optional()
    .transform((s) => {
      const t = (s ?? '').trim();
      return t === '' || t === '*' || t.toLowerCase() === 'all' ? '*' : t.split(/[\s;,|]+/).filter(Boolean);
    })
    .pipe(countriesPrefSchema),
  level: z
    .string()
    .optional()
    .transform((s) => (s ?? '').trim().toLowerCase() || 'all')
    .pipe(minLevelSchema),
});

export interface ImportReport {
  rows: number;
  added: number;
  updated: number;
  unchanged: number;
  /** Unsubscribed, bounced, complained or erased: never re-added by an import. Counted per row. */
  suppressed: number;
  /** Rows that repeated an address already seen in this file, merged into it. */
  merged: number;
  /** Rows refused; the first MAX_IMPORT_ERRORS_LISTED are in `errors`. */
  rejected: number;
  errors: Array<{ line: number; message: string }>;
}

export const MAX_IMPORT_ERRORS_LISTED = 1000;
/** A field of a known column longer than this rejects its row (an address is at most 254). */
export const MAX_FIELD_CHARS = 1000;
/** A record longer than this stops the import: the file is broken (an unclosed quote), not a list of people. */
export const MAX_RECORD_BYTES = 1024 * 1024;
/** Rows per Redis call. */
const BATCH_ROWS = 500;
const WRITES_IN_FLIGHT = 8;
const KNOWN_COLUMNS = ['email', 'countries', 'level'] as const;

export async function importSubscribers(ctx: Context, input: Readable, consentBasis: string): Promise<ImportReport> {
  if (!/^[a-z0-9][a-z0-9 _.-]{1,60}$/i.test(consentBasis)) {
    throw errors.CSV_INVALID('consent basis: state how these people agreed (e.g. "event-signup-2024"), 2-60 letters, digits, spaces, "_", "." or "-"');
  }
  const report: ImportReport = { rows: 0, added: 0, updated: 0, unchanged: 0, suppressed: 0, merged: 0, rejected: 0, errors: [] };
  const reject = (line: number, message: string) => {
    report.rejected++;
    if (report.errors.length < MAX_IMPORT_ERRORS_LISTED) report.errors.push({ line, message });
  };
  const writer = new SubscriberImportWriter(ctx.redis, ctx.keys, randomBytes(8).toString('hex'), `import:${consentBasis}`);
  const count = (outcomes: ImportOutcome[]) => {
    for (const o of outcomes) {
      if (o === 'A') report.added++;
      else if (o === 'U') report.updated++;
      else if (o === 'N') report.unchanged++;
      else if (o === 'S') report.suppressed++;
      else {
        report.merged++;
        // The first row for this address found it unchanged; this one changed it after all.
        if (o === 'm') {
          report.unchanged--;
          report.updated++;
        }
      }
    }
  };

  const columns = (header: string[]) => {
    const names = header.map((h) => h.trim().toLowerCase());
    if (!names.includes('email')) throw errors.CSV_INVALID('line 1: the header must have an "email" column (and optionally "countries" and "level")');
    return names;
  };
  // A record handed to the loop below is seen here first; when the parser fails, records it had
  // already produced (and a failed stream would drop) are still imported.
  type Parsed = { record: Record<string, string>; raw: string };
  const produced: Parsed[] = [];
  const parser = input.pipe(
    parse({
      columns,
      bom: true,
      trim: true,
      // Blank lines come through (and are skipped below) so that line numbers count them.
      skip_empty_lines: false,
      raw: true,
      relax_column_count: true,
      max_record_size: MAX_RECORD_BYTES,
      on_record: (r: Parsed) => {
        produced.push(r);
        return r;
      },
    }),
  );
  // Line numbers are counted from each record's raw text: a quoted field may span lines, and
  // csv-parse's own counter counts CR LF inside quotes twice.
  let nextLine = 2;
  let batch: ImportRow[] = [];
  // Up to WRITES_IN_FLIGHT batches are written while the next is read, so Redis always has work;
  // waiting for the oldest holds the file back (backpressure).
  const inFlight: Array<Promise<void>> = [];
  let writeError: unknown;
  const flush = async () => {
    const rows = batch;
    batch = [];
    if (rows.length === 0) return;
    while (inFlight.length >= WRITES_IN_FLIGHT) await inFlight.shift();
    const written = writer.write(rows).then(count, (err: unknown) => {
      writeError = err;
      throw err;
    });
    // Handled here too: a failure must not count as unhandled before its turn to be awaited.
    written.catch(() => undefined);
    inFlight.push(written);
  };
  const drain = async () => {
    while (inFlight.length) await inFlight.shift();
  };
  const take = async ({ record, raw }: Parsed) => {
    const line = nextLine;
    nextLine += Math.max(1, newlines(raw));
    if (raw.trim() === '') return;
    report.rows++;
    const long = KNOWN_COLUMNS.filter((c) => (record[c]?.length ?? 0) > MAX_FIELD_CHARS);
    if (long.length) return reject(line, long.map((c) => `${c}: is longer than ${MAX_FIELD_CHARS} characters`).join('; '));
    const parsed = rowSchema.safeParse(record);
    if (!parsed.success) return reject(line, formatZodIssues(parsed.error.issues));
    const { email, countries, level } = parsed.data;
    batch.push({ normalised: normaliseEmail(email), email, suppressionHash: suppressionHash(ctx.secret, email), countries, level });
    if (batch.length >= BATCH_ROWS) await flush();
  };
  let readError: unknown;
  try {
    try {
      for await (const r of parser as AsyncIterable<Parsed>) {
        produced.shift();
        await take(r);
      }
    } catch (err) {
      if (writeError !== undefined) throw asError(writeError);
      readError = err;
      for (const r of produced.splice(0)) await take(r);
    }
    // The good rows read before any break are stored too.
    await flush();
    await drain();
  } finally {
    await writer.finish().catch(() => undefined);
  }
  if (readError !== undefined) {
    if ((readError as { code?: string }).code?.startsWith('TOCSIN_') && report.rows === 0) throw asError(readError);
    throw Object.assign(errors.CSV_INVALID(`line ${nextLine}: ${(readError as Error).message}. The file was read up to there: ${summary(report)}`), { report });
  }
  return report;
}

function newlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** "8 rows: 3 added, 0 updated, 0 unchanged, 1 duplicate rows merged, 0 suppressed (...), 4 rejected." */
export function summary(r: ImportReport): string {
  return `${r.rows} rows: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.merged} duplicate rows merged, ${r.suppressed} suppressed (unsubscribed, bounced or erased), ${r.rejected} rejected.`;
}

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
