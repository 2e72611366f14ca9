import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError, internal, invalid, outcome } from '../fhir/errors.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

export function sendOutcome(reply: FastifyReply, error: FhirError): FastifyReply {
  for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
  return reply.code(error.status).type(FHIR_JSON).send(error.toOperationOutcome());
}

/** The single error handler: every failure becomes an OperationOutcome with the right status. */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (error instanceof FhirError) {
    if (error.status >= 500) request.log.error({ err: error.cause ?? error }, error.message);
    return sendOutcome(reply, error);
  }
  const fe = error as FastifyError;
  if (fe.validation) return sendOutcome(reply, invalid(fe.message));
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const status = fe.statusCode;
    const code = status === 415 ? 'invalid' : status === 413 ? 'too-long' : status === 404 ? 'not-found' : 'invalid';
    const e = new FhirError(status, code, safeClientMessage(fe));
    return sendOutcome(reply, e);
  }
  request.log.error({ err: error }, 'unhandled error');
  return sendOutcome(reply, internal('An internal error occurred.'));
}

function safeClientMessage(e: FastifyError): string {
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'Unsupported Content-Type: send application/fhir+json or application/json.';
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'The request body is empty; a JSON body was expected.';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'The request body is too large.';
    default:
      return e.message.replace(/\s+at .*/s, '').slice(0, 300) || 'Bad request.';
  }
}

export function notFoundOutcome(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .code(404)
    .type(FHIR_JSON)
    .send(outcome('error', 'not-found', `No route for ${request.method} ${request.url.split('?')[0] ?? ''}`));
}
