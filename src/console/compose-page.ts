import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MultipartFile } from '@fastify/multipart';
import type { Alert } from '../domain/alert.js';
import { FIELD_LABELS, attachmentLine, levelOptions, stageOptions, type ComposeValues, type FieldError } from './compose-form.js';
import type { AlertPreview } from './preview.js';
import type { FollowUpAudience } from './follow-up-audience.js';
import { sendPage, type ConsoleDeps } from './deps.js';

// The compose form as a page, shared by writing a draft, editing one, and correcting an alert
// that went out (the same fields, validation and uploads; a correction adds "What changed").

const files = (body: unknown, name: string): MultipartFile[] => {
  const raw = (body as Record<string, unknown> | undefined)?.[name];
  return (Array.isArray(raw) ? raw : raw ? [raw] : []).filter((f): f is MultipartFile =>
    Boolean(f && typeof f === 'object' && (f as MultipartFile).type === 'file' && (f as MultipartFile).filename),
  );
};

const cleanTitle = (name: string) =>
  name
    .replace(/[\u0000-\u001f\u007f|]/g, ' ')
    .trim()
    .slice(0, 200) || 'Attachment';

/** Stores uploaded files and writes their URLs into the form values, so a re-shown form keeps them. */
export async function takeUploads(deps: ConsoleDeps, body: unknown, values: ComposeValues): Promise<FieldError[]> {
  const problems: FieldError[] = [];
  const [image] = files(body, 'imageFile');
  if (image) {
    const data = await image.toBuffer();
    if (data.length > 0) {
      try {
        values.imageUrl = (await deps.uploads.save(data, 'Image file', 'image')).url;
      } catch (err) {
        problems.push({ field: 'imageFile', label: 'Image file', message: (err as Error).message });
      }
    }
  }
  for (const file of files(body, 'attachmentFiles')) {
    const data = await file.toBuffer();
    if (data.length === 0) continue;
    try {
      const stored = await deps.uploads.save(data, `Attachment "${cleanTitle(file.filename)}"`, 'attachment');
      const line = attachmentLine({ title: cleanTitle(file.filename), url: stored.url, mediaType: stored.mediaType, bytes: stored.bytes });
      values.attachments = values.attachments.trim() ? `${values.attachments.trim()}\n${line}` : line;
    } catch (err) {
      problems.push({ field: 'attachmentFiles', label: 'Attachment files', message: (err as Error).message });
    }
  }
  return problems;
}

/** What the correction form shows beyond the compose fields. */
export interface CorrectionView {
  /** The alert cannot be corrected now: the page says why and shows no form. */
  blocked?: boolean;
  /** "What changed", as typed. */
  note?: string;
  /** The version the form was opened on: a correction made meanwhile is not silently overwritten. */
  basedOn?: number;
  nextVersion?: number;
  audience?: FollowUpAudience;
  /** Subscribers it goes to by email: replies and fresh. */
  recipients?: number;
  /** The alert is still going out: the correction halts it first. */
  goingOut?: boolean;
  /** The alert is halted: those the halt skipped get the corrected alert instead. */
  halted?: boolean;
  /** Deliveries a halt would skip now. */
  waiting?: number;
}

export interface ComposePageOptions {
  values: ComposeValues;
  errors?: FieldError[];
  alert?: Alert;
  version?: string;
  preview?: AlertPreview;
  status?: number;
  formError?: string;
  correction?: CorrectionView;
}

export function sendComposePage(deps: ConsoleDeps, request: FastifyRequest, reply: FastifyReply, options: ComposePageOptions) {
  const errorList = options.errors ?? [];
  const byField: Record<string, string> = {};
  for (const e of errorList) byField[e.field] = byField[e.field] ? `${byField[e.field]}; ${e.message}` : e.message;
  const { alert, correction } = options;
  const title = alert ? `${correction ? 'Correct' : 'Edit'}: ${alert.title}` : 'Compose an alert';
  const action = !alert ? '/console/compose' : correction ? `/console/alerts/${alert.id}/correct` : `/console/alerts/${alert.id}/edit`;
  return sendPage(
    deps,
    request,
    reply,
    'compose',
    title,
    {
      heading: title,
      values: options.values,
      errors: errorList,
      fieldErrors: byField,
      formError: options.formError,
      levels: levelOptions(options.values.level),
      stages: stageOptions(options.values.stages),
      editing: Boolean(alert),
      alert,
      version: options.version ?? '',
      action,
      preview: options.preview,
      maxUploadMb: Math.floor(deps.uploads.maxBytes / (1024 * 1024)),
      labels: FIELD_LABELS,
      correction,
    },
    { nav: correction ? 'alerts' : 'compose', status: options.status, scripts: ['live-preview'] },
  );
}
