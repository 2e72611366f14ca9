/** The admin API, as the console calls it: JSON over fetch with the session cookie and its CSRF token. */

let csrfToken = '';
let onUnauthorized: () => void = () => undefined;

export function setCsrfToken(token: string): void {
  csrfToken = token;
}

export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Outcome {
  resourceType?: string;
  issue?: { diagnostics?: string; details?: { text?: string } }[];
}

function outcomeText(json: unknown): string | undefined {
  const o = json as Outcome | undefined;
  if (o?.resourceType !== 'OperationOutcome') return undefined;
  return o.issue?.map((i) => i.diagnostics ?? i.details?.text).filter(Boolean).join('; ');
}

export async function api<T>(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET') headers['x-csrf-token'] = csrfToken;
  const response = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    if (response.status === 401 && path !== '/admin/session') onUnauthorized();
    throw new ApiError(response.status, outcomeText(json) ?? `${response.status} ${response.statusText}`);
  }
  return json as T;
}

export const get = <T>(path: string): Promise<T> => api<T>('GET', path);

/** A query string from the given parameters, leaving out empty ones. */
export function query(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
