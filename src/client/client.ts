/**
 * `BulkExportClient`: runs a FHIR bulk data export end to end against any conformant server — discovery, token,
 * kick-off, polling, parallel downloads, manifest, job deletion — and reports every step as a typed event.
 *
 *   const client = new BulkExportClient({ fhirBaseUrl, clientId, privateKey, scope, outDir });
 *   client.on('file-done', (f) => console.log(f.file.name));
 *   const result = await client.export({ level: { kind: 'group', groupId: 'g1' } }, { signal });
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { JWK } from 'jose';
import { loadSigningKey, type SigningKey, TokenProvider } from './auth.js';
import type { ClientContext } from './context.js';
import { discoverTokenUrl } from './discovery.js';
import { downloadFile } from './download.js';
import { ExportEmitter, type Phase } from './events.js';
import { AbortError, DEFAULT_RETRY, errorMessage, HttpError, isAbort, type RetryPolicy } from './http.js';
import { buildKickoff, kickOff } from './kickoff.js';
import { localManifest, planFiles, summarize } from './plan.js';
import { type PollOptions, pollUntilComplete } from './poll.js';
import { send } from './request.js';
import type { DownloadedFile, ExportRequest, ExportResult, Manifest, PlannedFile } from './types.js';

/** When to delete the job on the server: after a complete download (default), whatever happened, or never. */
export type DeletePolicy = 'on-success' | 'always' | 'never';

export interface BulkExportClientOptions {
  /** The FHIR base URL; needed for a kick-off and for token endpoint discovery. */
  fhirBaseUrl?: string;
  clientId: string;
  /** A private JWK (RS384/ES384), a JWK Set holding one, or an already loaded key. */
  privateKey: JWK | { keys: JWK[] } | SigningKey;
  /** Requested scopes, e.g. `system/*.read`. */
  scope: string;
  /** The token endpoint; discovered from the FHIR base URL when absent. */
  tokenUrl?: string;
  /** Where files, `manifest.json` and partial downloads go. */
  outDir: string;
  /** Downloads at a time (default 4). */
  parallel?: number;
  deleteJob?: DeletePolicy;
  retry?: Partial<RetryPolicy>;
  poll?: PollOptions;
  /** Least time between two `file-progress` events of a file (default 250 ms). */
  progressIntervalMs?: number;
  fetch?: typeof globalThis.fetch;
  now?: () => number;
  random?: () => number;
  userAgent?: string;
}

export interface RunOptions {
  signal?: AbortSignal;
}

/** The export stopped before it finished: aborted, or a step failed for good. `statusUrl` resumes it when known. */
export class ExportError extends Error {
  constructor(
    message: string,
    readonly phase: Phase,
    readonly statusUrl: string | undefined,
    readonly jobDeleted: boolean,
    readonly aborted: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ExportError';
  }
}

const isSigningKey = (k: BulkExportClientOptions['privateKey']): k is SigningKey => 'key' in k && 'alg' in k && 'kid' in k && !('kty' in k);

async function writeJsonAtomically(path: string, value: unknown): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}

/**
 * Whether a file on disk (or a `.part`) from an earlier run of this output directory belongs to the job being
 * resumed: its manifest.json named the same status URL (same job, same file name and type), or listed the same
 * file URL under the same name. Anything else is downloaded afresh.
 */
async function reusableFiles(outDir: string, statusUrl: string): Promise<(file: PlannedFile) => boolean> {
  const byName = new Map<string, { url: string; type: string }>();
  let sameJob = false;
  try {
    const m = JSON.parse(await readFile(join(outDir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    sameJob = m['statusUrl'] === statusUrl;
    for (const list of [m['output'], m['error'], m['deleted']]) {
      if (!Array.isArray(list)) continue;
      for (const e of list as { file?: unknown; url?: unknown; type?: unknown }[]) {
        if (typeof e.file === 'string' && typeof e.url === 'string' && typeof e.type === 'string') byName.set(e.file, { url: e.url, type: e.type });
      }
    }
  } catch {
    // no earlier run (or an unreadable manifest): nothing is reused
  }
  return (file) => {
    const before = byName.get(file.name);
    return before !== undefined && before.type === file.type && (sameJob || before.url === file.url);
  };
}

/** Runs `fn` over `items` with at most `limit` running at once; results keep the order of `items`. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

export class BulkExportClient extends ExportEmitter {
  private readonly options: BulkExportClientOptions;
  private readonly retry: RetryPolicy;
  private signing: SigningKey | undefined;
  private tokenUrl: string | undefined;
  /** One token provider per client: tokens outlive a single run (a resume reuses them). */
  private tokens: TokenProvider | undefined;

  constructor(options: BulkExportClientOptions) {
    super();
    this.options = options;
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.tokenUrl = options.tokenUrl;
  }

  /** Token requests answered so far. */
  get tokensIssued(): number {
    return this.tokens?.issued ?? 0;
  }

  private context(signal: AbortSignal | undefined): ClientContext {
    return {
      fetch: this.options.fetch ?? globalThis.fetch,
      events: this,
      retry: this.retry,
      now: this.options.now ?? Date.now,
      random: this.options.random ?? Math.random,
      signal,
      userAgent: this.options.userAgent ?? 'flatfhir-bulk-client/0.1',
    };
  }

  /** The token source: the endpoint is discovered and the key loaded on first use. */
  private async tokenSource(ctx: ClientContext): Promise<TokenProvider> {
    if (!this.tokenUrl) {
      if (!this.options.fhirBaseUrl) throw new Error('Either the FHIR base URL or the token URL is needed.');
      const found = await discoverTokenUrl(ctx, this.options.fhirBaseUrl);
      this.tokenUrl = found.tokenUrl;
      this.emit('discovered', found);
    } else if (!this.tokens) {
      this.emit('discovered', { tokenUrl: this.tokenUrl, source: 'given' });
    }
    if (!this.signing) {
      const key = this.options.privateKey;
      this.signing = isSigningKey(key) ? key : await loadSigningKey(key);
    }
    this.tokens ??= new TokenProvider({ ...ctx, signal: undefined }, {
      tokenUrl: this.tokenUrl,
      clientId: this.options.clientId,
      scope: this.options.scope,
      signing: this.signing,
    });
    return this.tokens;
  }

  /** Kicks off an export and runs it to the end. */
  async export(request: ExportRequest, run: RunOptions = {}): Promise<ExportResult> {
    if (!this.options.fhirBaseUrl) throw new Error('A FHIR base URL is needed to kick off an export.');
    const fhirBaseUrl = this.options.fhirBaseUrl;
    return this.run(run, false, async (ctx, tokens) => kickOff(ctx, tokens, buildKickoff(fhirBaseUrl, request)));
  }

  /** Continues an export from its status URL: polls, then downloads what is not on disk yet. */
  async resume(statusUrl: string, run: RunOptions = {}): Promise<ExportResult> {
    return this.run(run, true, async () => statusUrl);
  }

  /**
   * Deletes a job (DELETE on its status URL): `deleted`, or `gone` when the server no longer knows it (deleted
   * before, expired — or deleted by an earlier attempt whose answer was an error).
   */
  async deleteJob(statusUrl: string, run: RunOptions = {}): Promise<'deleted' | 'gone'> {
    const ctx = this.context(run.signal);
    const tokens = await this.tokenSource(ctx);
    const response = await send(ctx, {
      phase: 'delete',
      method: 'DELETE',
      url: statusUrl,
      headers: { accept: 'application/json' },
      tokens,
      accept: (s) => (s >= 200 && s < 300) || s === 404,
    });
    await response.body?.cancel().catch(() => undefined);
    const outcome = response.status === 404 ? 'gone' : 'deleted';
    this.emit('job-deleted', { statusUrl, alreadyGone: outcome === 'gone' });
    return outcome;
  }

  private async run(
    run: RunOptions,
    resuming: boolean,
    start: (ctx: ClientContext, tokens: TokenProvider) => Promise<string>,
  ): Promise<ExportResult> {
    const ctx = this.context(run.signal);
    const outDir = resolve(this.options.outDir);
    const policy = this.options.deleteJob ?? 'on-success';
    let phase: Phase = 'discovery';
    let statusUrl: string | undefined;
    try {
      // Exported files hold patient data: a folder only its user enters, files only that user reads.
      await mkdir(outDir, { recursive: true, mode: 0o700 });
      const tokens = await this.tokenSource(ctx);
      phase = 'token';
      await tokens.token(ctx.signal);
      phase = 'kickoff';
      statusUrl = await start(ctx, tokens);
      phase = 'status';
      const manifest = await pollUntilComplete(ctx, tokens, statusUrl, this.options.poll);
      const files = planFiles(manifest);
      const reusable = resuming ? await reusableFiles(outDir, statusUrl) : () => false;
      await writeJsonAtomically(join(outDir, 'manifest.json'), localManifest(manifest, files, statusUrl));
      this.emit('manifest', { manifest, files });
      phase = 'download';
      const results = await this.downloadAll(ctx, tokens, manifest, files, outDir, reusable);
      const ok = results.every((r) => r.ok);
      let jobDeleted = false;
      if (policy === 'always' || (policy === 'on-success' && ok)) jobDeleted = await this.deleteQuietly(statusUrl, run.signal);
      const result: ExportResult = { statusUrl, manifest, files: results, summary: summarize(results), ok, jobDeleted, outDir };
      this.emit('done', result);
      return result;
    } catch (e) {
      const aborted = isAbort(e, run.signal) || e instanceof AbortError;
      let jobDeleted = false;
      // A job that failed on the server, or one the user gave up on with --delete-after, is cleaned up.
      if (statusUrl !== undefined && policy === 'always') jobDeleted = await this.deleteQuietly(statusUrl, undefined);
      const message = aborted ? 'The export was aborted.' : errorMessage(e);
      if (!aborted) this.emit('error', { phase, message, ...(e instanceof HttpError ? { status: e.status } : {}) });
      throw new ExportError(message, phase, statusUrl, jobDeleted, aborted, { cause: e });
    }
  }

  private async downloadAll(
    ctx: ClientContext,
    tokens: TokenProvider,
    manifest: Manifest,
    files: PlannedFile[],
    outDir: string,
    reusable: (file: PlannedFile) => boolean,
  ): Promise<DownloadedFile[]> {
    return mapLimit(files, this.options.parallel ?? 4, async (file) => {
      try {
        return await downloadFile(ctx, {
          file,
          outDir,
          requiresAccessToken: manifest.requiresAccessToken,
          tokens,
          resume: reusable(file),
          ...(this.options.progressIntervalMs !== undefined ? { progressIntervalMs: this.options.progressIntervalMs } : {}),
        });
      } catch (e) {
        if (isAbort(e, ctx.signal)) throw e;
        // Anything unexpected (a full disk, a token endpoint that stopped answering) fails this file, not the rest.
        const message = errorMessage(e);
        this.emit('error', { phase: 'download', message: `${file.name} (${file.url}): ${message}`, file });
        const failed: DownloadedFile = { file, ok: false, bytes: 0, resources: 0, error: message };
        this.emit('file-done', failed);
        return failed;
      }
    });
  }

  /** Deletes the job, reporting (not throwing) a failure; a fresh 15 s timeout replaces an aborted signal. True when it is gone. */
  private async deleteQuietly(statusUrl: string, signal: AbortSignal | undefined): Promise<boolean> {
    const timeout = AbortSignal.timeout(15_000);
    try {
      await this.deleteJob(statusUrl, { signal: signal && !signal.aborted ? AbortSignal.any([signal, timeout]) : timeout });
      return true;
    } catch (e) {
      this.emit('error', { phase: 'delete', message: `Deleting ${statusUrl} failed: ${errorMessage(e)}` });
      return false;
    }
  }
}
