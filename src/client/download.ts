/**
 * Downloading one manifest file to disk. The file URL is fetched with the access token (when the manifest says
 * `requiresAccessToken`) and `redirect: 'manual'`; a redirect is followed **without** `Authorization`. The body goes
 * to `<name>.part`; an interrupted transfer resumes with `Range` from the bytes already there; the finished file is
 * checked (NDJSON, resourceType, count) and renamed into place.
 */
import { open, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import type { TokenSource } from './auth.js';
import type { ClientContext } from './context.js';
import { discard, errorMessage, isAbort, isNetworkError, isTransientFailure, readFailure, retryDelay, sleep } from './http.js';
import type { DownloadedFile, PlannedFile } from './types.js';
import { checkNdjson } from './validate.js';

export interface DownloadOptions {
  file: PlannedFile;
  outDir: string;
  requiresAccessToken: boolean;
  tokens: TokenSource;
  /** Continue a `.part` file left by an earlier run and keep an earlier complete file that checks out. */
  resume: boolean;
  /** Least time between two `file-progress` events (default 250 ms). */
  progressIntervalMs?: number;
}

/** A failure worth another attempt (after `delayMs`, when given). */
class Retryable extends Error {
  constructor(
    message: string,
    readonly delayMs?: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** A failure that another attempt would not fix. */
class Fatal extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

const sizeOf = async (path: string): Promise<number> => {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
};

const exists = async (path: string): Promise<boolean> => (await stat(path).catch(() => undefined)) !== undefined;

/** Reads `Content-Range: bytes start-end/total`, or the unsatisfied-range form with an asterisk. */
export function parseContentRange(value: string | null): { start?: number; end?: number; total?: number } | undefined {
  if (!value) return undefined;
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i.exec(value.trim());
  if (!m) return undefined;
  return {
    ...(m[1] !== undefined ? { start: Number(m[1]), end: Number(m[2]) } : {}),
    ...(m[3] !== undefined && m[3] !== '*' ? { total: Number(m[3]) } : {}),
  };
}

const encoded = (response: Response): boolean => {
  const ce = response.headers.get('content-encoding');
  return ce !== null && ce.trim().toLowerCase() !== 'identity' && ce.trim() !== '';
};

/**
 * GETs a file URL: with the token only on the first hop (and only when required); redirects are followed by hand,
 * without `Authorization`. A 401 on the first hop renews the token once.
 */
async function openFile(
  ctx: ClientContext,
  url: string,
  useToken: boolean,
  tokens: TokenSource,
  headers: Record<string, string>,
): Promise<{ response: Response; redirected: boolean }> {
  let current = url;
  let withToken = useToken;
  let renewed = false;
  for (let hops = 0; ; ) {
    const h: Record<string, string> = { ...headers };
    let token: string | undefined;
    if (withToken) {
      token = await tokens.token(ctx.signal);
      h['authorization'] = `Bearer ${token}`;
    }
    const response = await ctx.fetch(current, { headers: h, redirect: 'manual', ...(ctx.signal ? { signal: ctx.signal } : {}) });
    if (REDIRECTS.has(response.status)) {
      const location = response.headers.get('location');
      await discard(response);
      if (!location) throw new Fatal(`${current} answered ${response.status} without a Location`, response.status);
      if (++hops > MAX_REDIRECTS) throw new Fatal(`${url}: too many redirects`, response.status);
      current = new URL(location, current).href;
      withToken = false; // a pre-signed URL: the token must never travel there
      continue;
    }
    if (response.status === 401 && withToken && token !== undefined && !renewed) {
      renewed = true;
      tokens.invalidate(token);
      await discard(response);
      continue;
    }
    return { response, redirected: hops > 0 };
  }
}

/** Downloads one file (with retries) and checks it; never throws except on abort. */
export async function downloadFile(ctx: ClientContext, options: DownloadOptions): Promise<DownloadedFile> {
  const { file, outDir } = options;
  const target = join(outDir, file.name);
  const part = `${target}.part`;
  const interval = options.progressIntervalMs ?? 250;

  const fail = (message: string, status?: number): DownloadedFile => {
    ctx.events.emit('error', { phase: 'download', message: `${file.name} (${file.url}): ${message}`, file, ...(status !== undefined ? { status } : {}) });
    const result: DownloadedFile = { file, ok: false, bytes: 0, resources: 0, error: message };
    ctx.events.emit('file-done', result);
    return result;
  };

  if (options.resume && (await exists(target))) {
    const check = await checkNdjson(target, file.type, file.count);
    if (check.ok) {
      const result: DownloadedFile = { file, ok: true, bytes: await sizeOf(target), resources: check.lines, reused: true };
      ctx.events.emit('file-done', result);
      return result;
    }
  }
  if (!options.resume) await rm(part, { force: true });

  /** One attempt; resolves when the file is complete in `.part`. Throws Retryable, Fatal or an abort. */
  const attemptOnce = async (attempt: number): Promise<void> => {
    const offset = await sizeOf(part);
    const headers: Record<string, string> = { accept: 'application/fhir+ndjson, application/ndjson;q=0.9, */*;q=0.1', 'user-agent': ctx.userAgent };
    if (offset > 0) {
      // Byte offsets of the file itself, not of a compressed stream: fetch sends `Accept-Encoding: identity` with
      // a Range by itself (Fetch standard, HTTP-network-or-cache fetch), so the header is not set here.
      headers['range'] = `bytes=${offset}-`;
    } else {
      headers['accept-encoding'] = 'gzip';
    }
    const { response, redirected } = await openFile(ctx, file.url, options.requiresAccessToken, options.tokens, headers);

    let append = false;
    let totalBytes: number | undefined;
    if (response.status === 200) {
      const length = response.headers.get('content-length');
      if (!encoded(response) && length !== null && /^\d+$/.test(length)) totalBytes = Number(length);
    } else if (response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'));
      if (!range || range.start !== offset || encoded(response)) {
        await discard(response);
        await truncate(part, 0);
        throw new Retryable(`the server answered a different range (${response.headers.get('content-range') ?? 'none'}); starting over`, 0);
      }
      append = true;
      totalBytes = range.total;
    } else if (response.status === 416) {
      const range = parseContentRange(response.headers.get('content-range'));
      await discard(response);
      if (offset > 0 && range?.total === offset) return; // the earlier attempt had everything
      await truncate(part, 0).catch(() => undefined);
      throw new Retryable('range not satisfiable; starting over', 0, 416);
    } else {
      const failure = await readFailure(response);
      // An expired pre-signed link (403 from the redirect target) is renewed by asking the file URL again.
      if (isTransientFailure(response.status, failure.codes) || (redirected && response.status === 403)) {
        throw new Retryable(failure.message, retryDelay(response, attempt, ctx.retry, ctx.now(), ctx.random), response.status);
      }
      throw new Fatal(failure.message, response.status);
    }

    ctx.events.emit('file-start', { file, attempt, offset: append ? offset : 0, ...(totalBytes !== undefined ? { totalBytes } : {}) });
    const handle = await open(part, append ? 'a' : 'w', 0o600);
    let bytes = append ? offset : 0;
    let lastProgress = 0;
    try {
      const reader = response.body?.getReader();
      while (reader) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (isAbort(e, ctx.signal)) throw e;
          throw new Retryable(`interrupted after ${bytes} bytes: ${errorMessage(e)}`);
        }
        if (chunk.done) break;
        try {
          await handle.write(chunk.value);
        } catch (e) {
          await reader.cancel().catch(() => undefined);
          throw new Fatal(`cannot write ${part}: ${errorMessage(e)}`);
        }
        bytes += chunk.value.byteLength;
        const now = ctx.now();
        if (now - lastProgress >= interval) {
          lastProgress = now;
          ctx.events.emit('file-progress', { file, bytes, ...(totalBytes !== undefined ? { totalBytes } : {}) });
        }
      }
    } finally {
      await handle.close();
    }
    ctx.events.emit('file-progress', { file, bytes, ...(totalBytes !== undefined ? { totalBytes } : {}) });
    if (totalBytes !== undefined && bytes < totalBytes) throw new Retryable(`the connection closed after ${bytes} of ${totalBytes} bytes`);
  };

  // Consecutive attempts without progress are limited; an attempt that added bytes resets the count.
  let failures = 0;
  for (let attempt = 1; ; attempt++) {
    const before = await sizeOf(part);
    try {
      await attemptOnce(attempt);
      break;
    } catch (e) {
      if (isAbort(e, ctx.signal)) throw e;
      const retryable = e instanceof Retryable || (!(e instanceof Fatal) && isNetworkError(e));
      const status = e instanceof Retryable || e instanceof Fatal ? e.status : undefined;
      if ((await sizeOf(part)) > before) failures = 0;
      failures++;
      if (!retryable || failures > ctx.retry.maxRetries) return fail(errorMessage(e), status);
      const delayMs = e instanceof Retryable && e.delayMs !== undefined ? e.delayMs : retryDelay(undefined, failures, ctx.retry, ctx.now(), ctx.random);
      ctx.events.emit('retry', { phase: 'download', url: file.url, attempt, delayMs, reason: errorMessage(e), ...(status !== undefined ? { status } : {}) });
      await sleep(delayMs, ctx.signal);
    }
  }

  const bytes = await sizeOf(part);
  const check = await checkNdjson(part, file.type, file.count);
  if (!check.ok) {
    // Keep what arrived for inspection, under a name that no reader of the export takes for data.
    await rename(part, `${target}.invalid`);
    return fail(`check failed: ${check.error ?? 'invalid'} (kept as ${file.name}.invalid)`);
  }
  await rename(part, target);
  await rm(`${target}.invalid`, { force: true }); // left by an earlier run
  const result: DownloadedFile = { file, ok: true, bytes, resources: check.lines };
  ctx.events.emit('file-done', result);
  return result;
}
