/**
 * The management interface over a running server's admin API (the CLI's `--server URL --admin-token T`): the
 * same methods, the same JSON, the same FhirErrors (rebuilt from the OperationOutcomes the API answers).
 */
import { FhirError } from '../fhir/errors.js';
import type { Management } from './index.js';

export interface RemoteOptions {
  /** The server's origin, e.g. https://fhir.example.org */
  server: string;
  adminToken: string;
  fetch?: typeof fetch;
}

export function remoteManagement(options: RemoteOptions): Management {
  const origin = options.server.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await doFetch(`${origin}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${options.adminToken}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (e) {
      throw new Error(`Cannot reach ${origin}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const issue = (json as { resourceType?: string; issue?: { code?: string; diagnostics?: string }[] } | undefined)?.issue?.[0];
      throw new FhirError(res.status, issue?.code ?? 'exception', issue?.diagnostics ?? `${method} ${path} answered ${res.status}`);
    }
    return json as T;
  }

  const q = (params: Record<string, string | number | boolean | undefined>): string => {
    const s = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) s.set(k, String(v));
    const text = s.toString();
    return text ? `?${text}` : '';
  };
  const seg = encodeURIComponent;

  return {
    tenants: {
      create: (input) => call('POST', '/admin/tenants', input),
      list: async () => (await call<{ tenants: Awaited<ReturnType<Management['tenants']['list']>> }>('GET', '/admin/tenants')).tenants,
      show: (id) => call('GET', `/admin/tenants/${seg(id)}`),
      remove: (id, o) => call('DELETE', `/admin/tenants/${seg(id)}${q({ force: o.force ? true : undefined })}`),
    },
    jobs: {
      list: async (f) =>
        (
          await call<{ jobs: Awaited<ReturnType<Management['jobs']['list']>> }>(
            'GET',
            `/admin/jobs${q({ tenant: f.tenant, client: f.clientId, state: f.states?.join(','), limit: f.limit })}`,
          )
        ).jobs,
      show: (id) => call('GET', `/admin/jobs/${seg(id)}`),
      // The server records the change with the admin's own address and request.
      cancel: (id) => call('POST', `/admin/jobs/${seg(id)}/cancel`),
      purge: async (before) =>
        (await call<{ purged: string[] }>('POST', '/admin/jobs/purge', { completed_before: new Date(before).toISOString() })).purged,
    },
  };
}
