/**
 * One authorized FHIR request with the retry rules of the bulk data protocol: network failures, `429`, `5xx` and
 * transient OperationOutcomes are waited out (Retry-After, else backoff with jitter); a `401` renews the token once.
 */
import type { TokenSource } from './auth.js';
import type { ClientContext } from './context.js';
import type { Phase } from './events.js';
import { errorMessage, HttpError, isAbort, isNetworkError, isTransientFailure, readFailure, retryDelay, sleep } from './http.js';

export interface SendOptions {
  phase: Phase;
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  /** Adds `Authorization: Bearer …` when given. */
  tokens?: TokenSource;
  /** Statuses handed back to the caller; anything else is retried or thrown. Default: 2xx. */
  accept?: (status: number) => boolean;
}

export async function send(ctx: ClientContext, options: SendOptions): Promise<Response> {
  const accept = options.accept ?? ((s: number) => s >= 200 && s < 300);
  let renewed = false;
  for (let attempt = 1; ; attempt++) {
    const headers: Record<string, string> = { 'user-agent': ctx.userAgent, ...options.headers };
    let token: string | undefined;
    if (options.tokens) {
      token = await options.tokens.token(ctx.signal);
      headers['authorization'] = `Bearer ${token}`;
    }
    let response: Response;
    try {
      response = await ctx.fetch(options.url, {
        method: options.method ?? 'GET',
        headers,
        redirect: 'manual',
        ...(options.body !== undefined ? { body: options.body } : {}),
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } catch (e) {
      if (isAbort(e, ctx.signal) || !isNetworkError(e) || attempt > ctx.retry.maxRetries) throw e;
      const delayMs = retryDelay(undefined, attempt, ctx.retry, ctx.now(), ctx.random);
      ctx.events.emit('retry', { phase: options.phase, url: options.url, attempt, delayMs, reason: errorMessage(e) });
      await sleep(delayMs, ctx.signal);
      continue;
    }
    if (accept(response.status)) return response;
    const failure = await readFailure(response);
    if (response.status === 401 && options.tokens && token !== undefined && !renewed) {
      // Expired or revoked: fetch a new token and try once more.
      renewed = true;
      options.tokens.invalidate(token);
      ctx.events.emit('retry', { phase: options.phase, url: options.url, attempt, delayMs: 0, reason: failure.message, status: 401 });
      continue;
    }
    if (isTransientFailure(response.status, failure.codes) && attempt <= ctx.retry.maxRetries) {
      const delayMs = retryDelay(response, attempt, ctx.retry, ctx.now(), ctx.random);
      ctx.events.emit('retry', { phase: options.phase, url: options.url, attempt, delayMs, reason: failure.message, status: response.status });
      await sleep(delayMs, ctx.signal);
      continue;
    }
    throw new HttpError(`${options.method ?? 'GET'} ${options.url} failed: ${failure.message}`, response.status, options.url, failure.codes);
  }
}
