import { type ServerResponse, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError, headTooLarge, internal, invalid, outcome } from '../fhir/errors.js';

export const FHIR_JSON = 'application/fhir+json; charset=utf-8';

/** The largest request head (request line and headers) the server reads. */
export const MAX_REQUEST_HEAD_BYTES = 16 * 1024;

/** onRequest: refuses a request whose head is over MAX_REQUEST_HEAD_BYTES (431). */
export function checkHeadSize(request: FastifyRequest): void {
  const raw = request.raw;
  // The request line, each header line and the blank line, as sent.
  let bytes = raw.method?.length ?? 0;
  bytes += 1 + (raw.url?.length ?? 0) + 1 + 8 + 2 + 2;
  const headers = raw.rawHeaders;
  for (let i = 0; i < headers.length; i += 2) bytes += (headers[i]?.length ?? 0) + 2 + (headers[i + 1]?.length ?? 0) + 2;
  if (bytes > MAX_REQUEST_HEAD_BYTES) {
    throw headTooLarge(`The request head is ${bytes} bytes; at most ${MAX_REQUEST_HEAD_BYTES} are accepted (long URLs: use POST with a Parameters body).`);
  }
}

/**
 * Node's `clientError`: a request the HTTP parser refused before any route saw it (a head past Node's own
 * bound, a malformed request line, a read timeout). Answers an OperationOutcome and closes the connection; to a
 * HEAD request (as far as the bytes read show) the same status and headers with no body.
 */
export function answerClientError(error: Error & { code?: string; rawPacket?: unknown }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, diagnostics] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'too-long', `The request head is over the limit; at most ${MAX_REQUEST_HEAD_BYTES} bytes are accepted.`]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'timeout', 'The request was not received in time.']
        : [400, 'invalid', 'The request is not valid HTTP.'];
  const body = JSON.stringify(outcome('error', code, diagnostics));
  const head = Buffer.isBuffer(error.rawPacket) && error.rawPacket.subarray(0, 5).toString('latin1') === 'HEAD ';
  // A request on this connection is still being answered (the bytes that failed came after it, as after a
  // request that said Connection: close): let that answer go out whole, then close; a second answer would
  // corrupt what the client reads.
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (inFlight) {
    inFlight.once('finish', () => socket.end());
    return;
  }
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: ${FHIR_JSON}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
    );
  }
  socket.destroy();
}

/**
 * The media type of an OperationOutcome for a request's Accept: application/fhir+json, unless the client accepts
 * application/json and not that (nor a wildcard), as status and delete requests may (`Accept: application/json`).
 */
export function outcomeType(accept: string | undefined): string {
  if (!accept) return FHIR_JSON;
  const types = accept.split(',').map((a) => a.split(';')[0]?.trim().toLowerCase() ?? '');
  const fhir = types.some((t) => t === 'application/fhir+json' || t === '*/*' || t === 'application/*');
  return !fhir && types.includes('application/json') ? 'application/json; charset=utf-8' : FHIR_JSON;
}

export function sendOutcome(reply: FastifyReply, error: FhirError): FastifyReply {
  for (const [k, v] of Object.entries(error.headers)) reply.header(k, v);
  return reply.code(error.status).type(outcomeType(reply.request.headers.accept)).send(error.toOperationOutcome());
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
    const code = status === 413 || status === 431 ? 'too-long' : status === 404 ? 'not-found' : 'invalid';
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
