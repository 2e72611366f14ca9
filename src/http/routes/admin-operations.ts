import type { FastifyInstance, FastifyRequest } from 'fastify';
import { auditBundle, auditEventView, auditQuery, type AuditQueryInput, clientActivity } from '../../admin/audit.js';
import { createJobsAdmin, parseStates, type AdminActor } from '../../admin/jobs.js';
import { clientView } from '../../auth/client-registry.js';
import { invalid, notFound } from '../../fhir/errors.js';
import type { AppContext } from '../context.js';

/**
 * The operations part of the admin API: export jobs, the audit trail and client activity. Registered by the admin
 * plugin inside its authenticated scope (this function adds routes only, no hook).
 *
 * - `GET /admin/jobs[?tenant&client&state=a,b&limit]` → `{ jobs: [...] }`, newest first
 * - `GET /admin/jobs/:id` → parameters, state, progress, files (counts, bytes), errors, timings
 * - `POST /admin/jobs/:id/cancel` → the job (deleted, files removed)
 * - `POST /admin/jobs/purge` `{ "completed_before": "2026-01-01" }` → `{ purged: [ids] }`
 * - `GET /admin/audit[?tenant&client&patient&job&action&outcome&from&to&limit&before]` → `{ events, next? }`;
 *   `&_format=fhir` → a searchset Bundle of AuditEvent
 * - `GET /admin/clients/:id/activity` → last token, last export, failed authentications in the last hour
 */
export function operationsRoutes(app: FastifyInstance, deps: AppContext): void {
  const jobs = createJobsAdmin({ jobs: deps.store.jobs, storage: deps.storage, log: deps.log, ...(deps.audit ? { audit: deps.audit } : {}) });
  const actor = (request: FastifyRequest): AdminActor => ({ source: request.ip, request: `${request.method} ${request.url}` });
  const now = deps.now ?? Date.now;
  const text = { type: 'string', maxLength: 200 } as const;

  app.get<{ Querystring: { tenant?: string; client?: string; state?: string; limit?: number } }>(
    '/admin/jobs',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { tenant: text, client: text, state: text, limit: { type: 'integer', minimum: 1, maximum: 1000 } },
          additionalProperties: false,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const states = parseStates(q.state);
      return {
        jobs: await jobs.list({
          ...(q.tenant ? { tenant: q.tenant } : {}),
          ...(q.client ? { clientId: q.client } : {}),
          ...(states ? { states } : {}),
          ...(q.limit !== undefined ? { limit: q.limit } : {}),
        }),
      };
    },
  );

  app.post<{ Body: { completed_before: string } }>(
    '/admin/jobs/purge',
    {
      schema: {
        body: { type: 'object', required: ['completed_before'], properties: { completed_before: { type: 'string', maxLength: 40 } }, additionalProperties: false },
      },
    },
    async (request) => {
      const before = Date.parse(request.body.completed_before);
      if (!/^\d{4}-\d{2}-\d{2}/.test(request.body.completed_before) || Number.isNaN(before)) {
        throw invalid('completed_before must be an ISO 8601 date or instant.');
      }
      return { purged: await jobs.purge(before, actor(request)) };
    },
  );

  app.get<{ Params: { id: string } }>('/admin/jobs/:id', async (request) => jobs.show(request.params.id));

  app.post<{ Params: { id: string } }>('/admin/jobs/:id/cancel', async (request) => jobs.cancel(request.params.id, actor(request)));

  const auditKeys = ['tenant', 'client', 'patient', 'job', 'action', 'outcome', 'from', 'to', 'before', 'limit', '_format'] as const;
  app.get<{ Querystring: AuditQueryInput & { _format?: string } }>(
    '/admin/audit',
    {
      schema: {
        querystring: { type: 'object', properties: Object.fromEntries(auditKeys.map((k) => [k, text])), additionalProperties: false },
      },
    },
    async (request, reply) => {
      if (!deps.audit) throw notFound('The audit trail is not available on this server.');
      const { _format: format, ...input } = request.query;
      const fhir = format === 'fhir' || format === 'json+fhir' || format === 'application/fhir+json';
      if (format !== undefined && !fhir && format !== 'json') throw invalid('_format must be json or fhir.');
      const query = auditQuery(input);
      const events = await deps.audit.list(query);
      const last = events[events.length - 1];
      const pageFull = last !== undefined && events.length === (query.limit ?? 100);
      const url = (extra: Record<string, string>): string => {
        const params = new URLSearchParams();
        for (const [k, v] of Object.entries({ ...request.query, ...extra })) if (v !== undefined) params.set(k, String(v));
        return `${deps.origin()}/admin/audit?${params.toString()}`;
      };
      const next = pageFull ? url({ before: String(last.id) }) : undefined;
      if (fhir) {
        const { beforeId: _page, limit: _limit, ...counted } = query;
        const total = await deps.audit.count(counted);
        return reply.type('application/fhir+json').send(auditBundle(events, total, url({}), next));
      }
      return { events: events.map(auditEventView), ...(next ? { next } : {}) };
    },
  );

  app.get<{ Params: { id: string } }>('/admin/clients/:id/activity', async (request) => {
    const client = await deps.store.clients.getClient(request.params.id);
    if (!client) throw notFound(`No client ${request.params.id}.`);
    if (!deps.audit) throw notFound('The audit trail is not available on this server.');
    return { client_id: client.clientId, ...(await clientActivity(deps.audit, client.clientId, now())) };
  });
}

/** A client with its activity, as `GET /admin/clients/:id` answers. */
export async function clientWithActivity(deps: AppContext, clientId: string): Promise<Record<string, unknown> | undefined> {
  const client = await deps.store.clients.getClient(clientId);
  if (!client) return undefined;
  const activity = deps.audit ? await clientActivity(deps.audit, clientId, (deps.now ?? Date.now)()) : undefined;
  return { ...clientView(client), ...(activity ? { activity } : {}) };
}
