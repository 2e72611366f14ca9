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

/** A server's answer to one admin API call: its status and its JSON body (undefined when empty or not JSON). */
export interface AdminAnswer {
  status: number;
  ok: boolean;
  json: unknown;
}

/**
 * One call of a server's admin API with its admin credential. Rejects only when the server cannot be reached (with
 * the network error); every answer, an error status included, is resolved, for the caller to report its own way.
 */
export async function callAdminApi(
  server: { origin: string; token: string; fetch?: typeof fetch },
  method: string,
  path: string,
  body?: unknown,
): Promise<AdminAnswer> {
  const res = await (server.fetch ?? fetch)(`${server.origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.token}`, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, ok: res.ok, json };
}

export function remoteManagement(options: RemoteOptions): Management {
  const origin = options.server.replace(/\/+$/, '');
  const doFetch = options.fetch ?? fetch;

  async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
    let answer: AdminAnswer;
    try {
      answer = await callAdminApi({ origin, token: options.adminToken, fetch: doFetch }, method, path, body);
    } catch (e) {
      throw new Error(`Cannot reach ${origin}: ${(e as Error).message}`);
    }
    if (!answer.ok) {
      const issue = (answer.json as { issue?: { code?: string; diagnostics?: string }[] } | undefined)?.issue?.[0];
      throw new FhirError(answer.status, issue?.code ?? 'exception', issue?.diagnostics ?? `${method} ${path} answered ${answer.status}`);
    }
    return answer.json as T;
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
    groups: {
      create: (input) => {
        const { tenant, fromSearch, memberFilter, ...rest } = input;
        return call('POST', `/admin/tenants/${seg(tenant)}/groups`, {
          ...rest,
          ...(fromSearch !== undefined ? { from_search: fromSearch } : {}),
          ...(memberFilter !== undefined ? { member_filter: memberFilter } : {}),
        });
      },
      list: async (tenant) => (await call<{ groups: Awaited<ReturnType<Management['groups']['list']>> }>('GET', `/admin/tenants/${seg(tenant)}/groups`)).groups,
      show: (tenant, id, o = {}) => call('GET', `/admin/tenants/${seg(tenant)}/groups/${seg(id)}${q({ as_of: o.asOfJob })}`),
      addMembers: (tenant, id, patients) => call('POST', `/admin/tenants/${seg(tenant)}/groups/${seg(id)}/members`, { patients }),
      removeMembers: (tenant, id, patients) => call('POST', `/admin/tenants/${seg(tenant)}/groups/${seg(id)}/members/remove`, { patients }),
      setInactive: (tenant, id, patients, inactive) => call('POST', `/admin/tenants/${seg(tenant)}/groups/${seg(id)}/members/inactive`, { patients, inactive }),
      remove: (tenant, id) => call('DELETE', `/admin/tenants/${seg(tenant)}/groups/${seg(id)}`),
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
