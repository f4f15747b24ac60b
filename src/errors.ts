import createError from '@fastify/error';
import type { z } from 'zod';

// Every error a user can see, with its code and HTTP status. README "Errors" lists the same
// codes; test/errors-docs.test.ts keeps the two in sync.
export const errors = {
  NOT_FOUND: createError('TOCSIN_ERR_NOT_FOUND', 'No route %s', 404),
  REQUEST: createError('TOCSIN_ERR_REQUEST', 'Bad request: %s', 400),
  INTERNAL: createError('TOCSIN_ERR_INTERNAL', 'Internal error; the details are in the server log.', 500),
  CONFIG_INVALID: createError('TOCSIN_ERR_CONFIG_INVALID', 'Invalid configuration: %s', 500),
  REDIS_UNREACHABLE: createError('TOCSIN_ERR_REDIS_UNREACHABLE', '%s', 503),
  ALERT_INVALID: createError('TOCSIN_ERR_ALERT_INVALID', 'Invalid alert: %s', 400),
  ALERT_NOT_FOUND: createError('TOCSIN_ERR_ALERT_NOT_FOUND', 'No alert with id or slug "%s"', 404),
  ALERT_EXISTS: createError('TOCSIN_ERR_ALERT_EXISTS', 'An alert with slug "%s" already exists', 409),
  ALERT_NOT_PUBLISHABLE: createError('TOCSIN_ERR_ALERT_NOT_PUBLISHABLE', 'Alert %s cannot be published from status "%s"', 409),
  BODY_INVALID: createError('TOCSIN_ERR_BODY_INVALID', 'Invalid request: %s', 400),
  UNAUTHORIZED: createError('TOCSIN_ERR_UNAUTHORIZED', 'Missing or invalid credentials', 401),
  FORBIDDEN: createError('TOCSIN_ERR_FORBIDDEN', 'Not allowed: %s', 403),
  CSV_INVALID: createError('TOCSIN_ERR_CSV_INVALID', 'Invalid CSV: %s', 400),
  EMAIL_INVALID: createError('TOCSIN_ERR_EMAIL_INVALID', 'Invalid email address: %s', 400),
  CHANNEL_UNKNOWN: createError('TOCSIN_ERR_CHANNEL_UNKNOWN', 'No channel named "%s"', 404),
  RATE_LIMITED: createError('TOCSIN_ERR_RATE_LIMITED', 'Too many requests: %s', 429),
  WEBHOOK_NOT_CONFIGURED: createError('TOCSIN_ERR_WEBHOOK_NOT_CONFIGURED', 'The %s bounce webhook is not configured on this server', 404),
  WEBHOOK_SIGNATURE: createError('TOCSIN_ERR_WEBHOOK_SIGNATURE', 'Webhook refused: %s', 403),
  DSN_INVALID: createError('TOCSIN_ERR_DSN_INVALID', 'Not a delivery status report: %s', 400),
  ALERT_NOT_EDITABLE: createError('TOCSIN_ERR_ALERT_NOT_EDITABLE', 'Alert %s cannot be edited in status "%s"; only drafts and approved alerts can', 409),
  ALERT_EDIT_CONFLICT: createError(
    'TOCSIN_ERR_ALERT_EDIT_CONFLICT',
    'Alert %s was changed by someone else after you opened it; reload it and apply your changes again',
    409,
  ),
  ALERT_NOT_APPROVABLE: createError('TOCSIN_ERR_ALERT_NOT_APPROVABLE', 'Alert %s cannot be approved from status "%s"', 409),
  APPROVAL_REQUIRED: createError('TOCSIN_ERR_APPROVAL_REQUIRED', 'Alert %s must be approved by a second person before it is published (approvals: 2)', 409),
  SAME_PERSON: createError('TOCSIN_ERR_SAME_PERSON', '%s wrote alert %s; with approvals: 2 someone else must %s it', 403),
  SCHEDULE_INVALID: createError('TOCSIN_ERR_SCHEDULE_INVALID', 'Invalid schedule: %s', 400),
  ALERT_NOT_SCHEDULED: createError('TOCSIN_ERR_ALERT_NOT_SCHEDULED', 'Alert %s is not scheduled (status "%s")', 409),
  ALERT_NOT_HALTABLE: createError('TOCSIN_ERR_ALERT_NOT_HALTABLE', 'Alert %s is not going out (status "%s"), so there is nothing to halt', 409),
  ALERT_NOT_HALTED: createError('TOCSIN_ERR_ALERT_NOT_HALTED', 'Alert %s is not halted (status "%s")', 409),
  ALERT_NOT_FOLLOWABLE: createError('TOCSIN_ERR_ALERT_NOT_FOLLOWABLE', 'Alert %s cannot be %s from status "%s"; only alerts that went out can', 409),
  UPLOAD_INVALID: createError('TOCSIN_ERR_UPLOAD_INVALID', 'Invalid upload: %s', 400),
  UPLOAD_TOO_LARGE: createError('TOCSIN_ERR_UPLOAD_TOO_LARGE', 'Upload too large: %s', 413),
  ALERT_CHANNEL_UNKNOWN: createError('TOCSIN_ERR_ALERT_CHANNEL_UNKNOWN', 'Alert %s has no deliveries on channel "%s" (its channels: %s)', 404),
  METRICS_DISABLED: createError('TOCSIN_ERR_METRICS_DISABLED', 'Metrics are turned off: set %s to a token and scrape with it as a bearer token', 404),
  TOO_MANY_STREAMS: createError('TOCSIN_ERR_TOO_MANY_STREAMS', 'Too many live progress streams: %s', 429),
  STREAMS_FULL: createError('TOCSIN_ERR_STREAMS_FULL', 'No live progress stream available: %s', 503),
  SIGNING_KEY_MISSING: createError('TOCSIN_ERR_SIGNING_KEY_MISSING', 'Cannot sign alerts: %s', 500),
  SIGNING_OFF: createError(
    'TOCSIN_ERR_SIGNING_OFF',
    'Alert signing is turned off on this server (signing.enabled: false), so there is nothing to verify against',
    404,
  ),
} as const;

/** Marks an error with how long to wait; the error handlers send it as `Retry-After`. */
export function withRetryAfter<E extends Error>(err: E, seconds: number): E & { retryAfterS: number } {
  return Object.assign(err, { retryAfterS: Math.max(1, Math.ceil(seconds)) });
}

/** "countries.0: must be ISO 3166-1 alpha-2; title: Required" */
export function formatZodIssues(issues: z.core.$ZodIssue[], root?: string): string {
  return issues
    .map((issue) => {
      const path = issue.path.map(String).join('.');
      const message = issue.code === 'invalid_type' && /received undefined/.test(issue.message) ? 'is required' : issue.message;
      return `${root && !path ? root : path || '(root)'}: ${message}`;
    })
    .join('; ');
}
