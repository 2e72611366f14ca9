import { createGzip } from 'node:zlib';
import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError, forbidden, notFound } from '../../fhir/errors.js';
import { DOWNLOAD_PATH, objectContentType, type ObjectStorage } from '../../storage/ports.js';
import type { AppDeps } from '../context.js';

function parseRange(header: string, size: number): { start: number; end: number } | 'invalid' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  let start: number;
  let end: number;
  if (a === '' && b === '') return 'invalid';
  if (a === '') {
    const suffix = Number(b);
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return { start, end };
}

/**
 * Sends an object as the response through the storage's `writeTo` (two reused buffers per download rather than a
 * new one per read, which at hundreds of MB/s keeps the heap busy collecting them): the response's head, as the
 * reply has it, once the object is open; a failure after that ends the connection, as a failed stream would.
 */
async function sendThrough(
  writeTo: NonNullable<ObjectStorage['writeTo']>,
  request: FastifyRequest,
  reply: FastifyReply,
  key: string,
  range: { start: number; end: number } | undefined,
): Promise<FastifyReply> {
  const res = reply.raw;
  let started = false;
  try {
    await writeTo(key, res, range, () => {
      started = true;
      reply.hijack();
      res.writeHead(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders);
    });
  } catch (e) {
    if (!started) throw notFound('The file no longer exists.');
    request.log.warn({ err: e }, 'download ended early');
    res.destroy();
    return reply;
  }
  res.end();
  return reply;
}

/**
 * Serves pre-signed downloads of locally stored export files: no Authorization, an HMAC over key and expiry,
 * `Range` for resuming, gzip when asked for (on whole-file requests).
 */
export function downloadRoutes(deps: AppDeps): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { '*': string }; Querystring: { expires?: string; signature?: string } }>(`${DOWNLOAD_PATH}/*`, async (request, reply) => {
      const storage = deps.storage;
      const key = request.params['*'];
      const expires = Number(request.query.expires);
      const signature = request.query.signature ?? '';
      if (!storage.verifyPresigned || !storage.verifyPresigned(key, expires, signature, Date.now())) {
        throw forbidden('The download link is invalid or has expired; request the file URL again.');
      }
      const stat = await storage.stat(key);
      if (!stat) throw notFound('The file no longer exists.');
      reply.header('accept-ranges', 'bytes').header('cache-control', 'private, no-store');
      reply.type(objectContentType(key));
      const rangeHeader = request.headers.range;
      if (rangeHeader) {
        const range = parseRange(rangeHeader, stat.bytes);
        if (range === 'invalid') {
          reply.header('content-range', `bytes */${stat.bytes}`);
          throw new FhirError(416, 'invalid', `Range ${rangeHeader} is not satisfiable for ${stat.bytes} bytes.`);
        }
        if (range) {
          reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${stat.bytes}`);
          reply.header('content-length', String(range.end - range.start + 1));
          if (storage.writeTo) return sendThrough(storage.writeTo.bind(storage), request, reply, key, range);
          return reply.send(await storage.get(key, range));
        }
      }
      const acceptEncoding = String(request.headers['accept-encoding'] ?? '');
      if (/\bgzip\b/.test(acceptEncoding) && !/gzip;\s*q=0(\.0*)?(,|$)/.test(acceptEncoding)) {
        reply.header('content-encoding', 'gzip').header('vary', 'accept-encoding');
        return reply.send((await storage.get(key)).pipe(createGzip({ level: 1 })));
      }
      reply.header('content-length', String(stat.bytes));
      if (storage.writeTo) return sendThrough(storage.writeTo.bind(storage), request, reply, key, undefined);
      return reply.send(await storage.get(key));
    });
  };
}
