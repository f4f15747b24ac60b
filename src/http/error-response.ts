import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';

// The one place that turns an error into what a client is told: the API, the public pages, the
// subscription pages and the console all answer through it (as JSON, or inside their own page).
// A TOCSIN_ERR_* error keeps its code and message; a Fastify error (body too large, bad JSON, a
// failed CSRF check) gets a Tocsin code where it has one; anything else is a 500 whose details
// stay in the server log.

export type ThrownError = FastifyError & { retryAfterS?: number };

export interface ErrorResponse {
  status: number;
  code: string;
  message: string;
  retryAfterS?: number;
}

export function errorResponse(error: ThrownError, request: FastifyRequest, options: { maxUploadBytes?: number } = {}): ErrorResponse {
  let status = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
  if (status >= 500) request.log.error({ err: error }, 'request failed');
  let code = error.code ?? (status >= 500 ? 'TOCSIN_ERR_INTERNAL' : 'TOCSIN_ERR_REQUEST');
  let message = status >= 500 && !error.code?.startsWith('TOCSIN_') ? 'Internal error; the details are in the server log.' : error.message;
  if (code.startsWith('FST_CSRF')) {
    code = 'TOCSIN_ERR_FORBIDDEN';
    message = 'This form has expired or did not come from this site (CSRF check failed). Go back, reload the page and try again.';
    status = 403;
  }
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE')
    message = `Request body is too large: at most ${request.routeOptions.bodyLimit ?? 'the configured limit of'} bytes are accepted here`;
  if (code === 'FST_REQ_FILE_TOO_LARGE' && options.maxUploadBytes) message = `An uploaded file is larger than ${options.maxUploadBytes} bytes.`;
  return { status, code, message, ...(error.retryAfterS ? { retryAfterS: error.retryAfterS } : {}) };
}

/** Sets the status and Retry-After; the caller sends the body (JSON or a page). */
export function prepareReply(reply: FastifyReply, e: ErrorResponse): FastifyReply {
  if (e.retryAfterS) reply.header('retry-after', String(e.retryAfterS));
  return reply.code(e.status);
}

/** The JSON body of an error: `{statusCode, code, error}`. */
export function sendErrorJson(reply: FastifyReply, e: ErrorResponse): FastifyReply {
  return prepareReply(reply, e).send({ statusCode: e.status, code: e.code, error: e.message });
}
