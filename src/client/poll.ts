/**
 * Polling the status URL until the export completes: `202` → wait (Retry-After, else backoff with jitter) and poll
 * again, reporting `X-Progress`; `200` → the manifest. `429`, `5xx` and transient OperationOutcomes are waited out by
 * `send`; anything else is the export's failure.
 */
import type { TokenSource } from './auth.js';
import type { ClientContext } from './context.js';
import { backoffDelay, HttpError, parseRetryAfter, sleep } from './http.js';
import { send } from './request.js';
import type { Manifest, ManifestEntry } from './types.js';

export interface PollOptions {
  /** Shortest wait between polls (default 100 ms). */
  minWaitMs?: number;
  /** Longest wait between polls, also the cap for Retry-After (default 120 s). */
  maxWaitMs?: number;
  /** First wait when the server gives no Retry-After; doubled each poll (default 1 s). */
  initialWaitMs?: number;
  /** Give up after this long (default: never). */
  timeoutMs?: number;
}

const entries = (value: unknown, what: string, url: string): ManifestEntry[] => {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new HttpError(`The manifest's ${what} is not an array.`, 200, url);
  return value.map((e: unknown, i) => {
    const entry = e as Partial<ManifestEntry> | null;
    if (!entry || typeof entry.type !== 'string' || typeof entry.url !== 'string') {
      throw new HttpError(`The manifest's ${what}[${i}] needs a type and a url.`, 200, url);
    }
    return { ...entry, url: new URL(entry.url, url).href } as ManifestEntry;
  });
};

/** Checks the shape of a completed status body; relative URLs are resolved against the status URL. */
export function readManifest(body: unknown, url: string): Manifest {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError('The completed status response is not a JSON object.', 200, url);
  const m = body as Record<string, unknown>;
  const manifest: Manifest = {
    ...m,
    transactionTime: typeof m['transactionTime'] === 'string' ? m['transactionTime'] : '',
    request: typeof m['request'] === 'string' ? m['request'] : '',
    // Absent means the conservative answer: send the token.
    requiresAccessToken: m['requiresAccessToken'] !== false,
    output: entries(m['output'], 'output', url),
    error: entries(m['error'], 'error', url),
  };
  if (m['deleted'] !== undefined) manifest.deleted = entries(m['deleted'], 'deleted', url);
  return manifest;
}

const nextLink = (manifest: Manifest): string | undefined => {
  const links = manifest['link'];
  if (!Array.isArray(links)) return undefined;
  const next = (links as { relation?: unknown; url?: unknown }[]).find((l) => l.relation === 'next' && typeof l.url === 'string');
  return next?.url as string | undefined;
};

/** Polls until the export completes; answers its manifest (paged manifests, Bulk Data v2, are joined). */
export async function pollUntilComplete(ctx: ClientContext, tokens: TokenSource, statusUrl: string, options: PollOptions = {}): Promise<Manifest> {
  const minWait = options.minWaitMs ?? 100;
  const maxWait = options.maxWaitMs ?? 120_000;
  const policy = { baseDelayMs: options.initialWaitMs ?? 1000, maxDelayMs: maxWait };
  const started = ctx.now();
  for (let polls = 1; ; polls++) {
    const response = await send(ctx, {
      phase: 'status',
      url: statusUrl,
      headers: { accept: 'application/json' },
      tokens,
      accept: (s) => s === 200 || s === 202,
    });
    if (response.status === 200) {
      let manifest = readManifest(await response.json(), statusUrl);
      const seen = new Set<string>([statusUrl]);
      for (let next = nextLink(manifest); next !== undefined && !seen.has(next); next = nextLink(manifest)) {
        seen.add(next);
        const page = await send(ctx, { phase: 'status', url: next, headers: { accept: 'application/json' }, tokens, accept: (s) => s === 200 });
        const more = readManifest(await page.json(), next);
        manifest = {
          ...manifest,
          link: more['link'],
          output: [...manifest.output, ...more.output],
          error: [...manifest.error, ...more.error],
          ...(manifest.deleted || more.deleted ? { deleted: [...(manifest.deleted ?? []), ...(more.deleted ?? [])] } : {}),
        };
      }
      return manifest;
    }
    const progress = response.headers.get('x-progress') ?? undefined;
    const after = parseRetryAfter(response.headers.get('retry-after'), ctx.now());
    await response.body?.cancel().catch(() => undefined);
    const waitMs = Math.min(maxWait, Math.max(minWait, after ?? backoffDelay(polls, policy, ctx.random)));
    const elapsedMs = ctx.now() - started;
    ctx.events.emit('status', { statusUrl, ...(progress !== undefined ? { progress } : {}), polls, waitMs, elapsedMs });
    if (options.timeoutMs !== undefined && elapsedMs + waitMs > options.timeoutMs) {
      throw new HttpError(`The export did not complete within ${Math.round(options.timeoutMs / 1000)} s (status ${statusUrl}).`, 202, statusUrl);
    }
    await sleep(waitMs, ctx.signal);
  }
}
