/**
 * HTTP helpers shared by the protocol steps: Retry-After parsing, exponential backoff with jitter, abortable sleep,
 * OperationOutcome reading and the "is this worth retrying?" decision.
 */

export interface RetryPolicy {
  /** Consecutive failed attempts tolerated before giving up (per request). */
  maxRetries: number;
  /** First backoff delay; doubled on every retry. */
  baseDelayMs: number;
  /** Longest backoff delay. */
  maxDelayMs: number;
  /** Longest wait a server's Retry-After can impose. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxRetries: 6, baseDelayMs: 1000, maxDelayMs: 30_000, maxRetryAfterMs: 120_000 };

/** An HTTP failure with the server's OperationOutcome (or OAuth error) text. */
export class HttpError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly url: string,
    readonly codes: string[] = [],
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** Thrown when the caller's AbortSignal fired. */
export class AbortError extends Error {
  constructor(message = 'The export was aborted.') {
    super(message);
    this.name = 'AbortError';
  }
}

export function isAbort(e: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted) return true;
  return e instanceof Error && (e.name === 'AbortError' || e.name === 'TimeoutError');
}

export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new AbortError();
}

/** Waits `ms`; rejects with AbortError when the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError());
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(new AbortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * `Retry-After` as milliseconds from now: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable; never negative.
 */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === '') return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (/^\d+\.\d+$/.test(v)) return Math.round(Number(v) * 1000); // lenient: fractional seconds
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

/** Exponential backoff with "equal jitter": half the delay fixed, half random. `attempt` starts at 1. */
export function backoffDelay(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

/** The delay before retrying: the server's Retry-After (capped) or backoff. */
export function retryDelay(response: Response | undefined, attempt: number, policy: RetryPolicy, now: number, random: () => number): number {
  const after = parseRetryAfter(response?.headers.get('retry-after'), now);
  if (after !== undefined) return Math.min(after, policy.maxRetryAfterMs);
  return backoffDelay(attempt, policy, random);
}

export interface OutcomeSummary {
  /** `issue[].code` values of an OperationOutcome (or the OAuth `error`). */
  codes: string[];
  /** A one-line description for people. */
  message: string;
}

/** Reads an error body: an OperationOutcome, an OAuth error or plain text. Never throws. */
export async function readFailure(response: Response): Promise<OutcomeSummary> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the body could not be read: the status has to do
  }
  const status = `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    if (body['resourceType'] === 'OperationOutcome' && Array.isArray(body['issue'])) {
      const issues = body['issue'] as { code?: unknown; diagnostics?: unknown; details?: { text?: unknown } }[];
      const codes = issues.map((i) => (typeof i.code === 'string' ? i.code : '')).filter(Boolean);
      const texts = issues
        .map((i) => (typeof i.diagnostics === 'string' ? i.diagnostics : typeof i.details?.text === 'string' ? i.details.text : ''))
        .filter(Boolean);
      return { codes, message: `${status} (${codes.join(', ') || 'OperationOutcome'})${texts.length ? `: ${texts.join('; ')}` : ''}` };
    }
    if (typeof body['error'] === 'string') {
      const description = typeof body['error_description'] === 'string' ? `: ${body['error_description']}` : '';
      return { codes: [body['error']], message: `${status} ${body['error']}${description}` };
    }
  } catch {
    // not JSON
  }
  const snippet = text.trim().slice(0, 200);
  return { codes: [], message: snippet ? `${status}: ${snippet}` : status };
}

/** Whether a failed response means "wait and try again": 429, 408, 5xx, or an OperationOutcome saying so. */
export function isTransientFailure(status: number, codes: string[]): boolean {
  if (status === 429 || status === 408 || status >= 500) return true;
  return codes.some((c) => c === 'transient' || c === 'throttled' || c === 'timeout' || c === 'slow_down' || c === 'temporarily_unavailable');
}

/** Whether an exception from fetch (or from reading a body) is a network failure worth retrying. */
export function isNetworkError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e.name === 'AbortError') return false;
  if (e instanceof TypeError) return true; // fetch failed, terminated
  const code = (e as { code?: unknown }).code;
  return (
    typeof code === 'string' &&
    ['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes(code)
  );
}

/** The message of an exception, including its cause (fetch hides the useful part there). */
export function errorMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message && cause.message !== e.message ? `${e.message}: ${cause.message}` : e.message;
}

/** Discards a response body so that its connection can be reused. */
export async function discard(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // already consumed or closed
  }
}
