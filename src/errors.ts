import createError from '@fastify/error';
import type { z } from 'zod';

// Every error a user can see, with its code and HTTP status. README "Errors" lists the same
// codes; test/errors-docs.test.ts keeps the two in sync.
export const errors = {
  CONFIG_INVALID: createError('TOCSIN_ERR_CONFIG_INVALID', 'Invalid configuration: %s', 500),
  REDIS_UNREACHABLE: createError('TOCSIN_ERR_REDIS_UNREACHABLE', '%s', 503),
  ALERT_INVALID: createError('TOCSIN_ERR_ALERT_INVALID', 'Invalid alert: %s', 400),
  ALERT_NOT_FOUND: createError('TOCSIN_ERR_ALERT_NOT_FOUND', 'No alert with id or slug "%s"', 404),
  ALERT_EXISTS: createError('TOCSIN_ERR_ALERT_EXISTS', 'An alert with slug "%s" already exists', 409),
  ALERT_NOT_PUBLISHABLE: createError('TOCSIN_ERR_ALERT_NOT_PUBLISHABLE', 'Alert %s cannot be published from status "%s"', 409),
  BODY_INVALID: createError('TOCSIN_ERR_BODY_INVALID', 'Invalid request: %s', 400),
  UNAUTHORIZED: createError('TOCSIN_ERR_UNAUTHORIZED', 'Missing or invalid credentials', 401),
  FORBIDDEN: createError('TOCSIN_ERR_FORBIDDEN', 'Not allowed: %s', 403),
  TOKEN_INVALID: createError('TOCSIN_ERR_TOKEN_INVALID', 'This link is not valid: %s', 400),
  CSV_INVALID: createError('TOCSIN_ERR_CSV_INVALID', 'Invalid CSV: %s', 400),
  EMAIL_INVALID: createError('TOCSIN_ERR_EMAIL_INVALID', 'Invalid email address: %s', 400),
  CHANNEL_UNKNOWN: createError('TOCSIN_ERR_CHANNEL_UNKNOWN', 'No channel named "%s"', 404),
} as const;

export type ErrorCode = ReturnType<(typeof errors)[keyof typeof errors]>['code'];

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
