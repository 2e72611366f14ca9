import { auditBundle, auditEventView, auditQuery, type AuditQueryInput } from '../../../manage/audit.js';
import { type AdminActor, JOB_STATES, parseStates } from '../../../manage/jobs.js';
import { invalid, notFound } from '../../../fhir/errors.js';
import type { FastifyRequest } from 'fastify';
import { type AdminModule, ERROR_RESPONSES, idParams } from './common.js';

const JOB = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string' },
    client_id: { type: 'string' },
    kind: { type: 'string', enum: ['group', 'patient', 'system'] },
    state: { type: 'string', enum: [...JOB_STATES] },
    request: { type: 'string' },
    created_at: { type: 'string', format: 'date-time' },
    completed_at: { type: 'string', format: 'date-time', nullable: true },
    expires_at: { type: 'string', format: 'date-time' },
    progress: { type: 'object', properties: { done: { type: 'integer' }, total: { type: 'integer' } } },
    error: { type: 'string', nullable: true },
  },
  additionalProperties: true,
} as const;

const JOB_DETAIL = {
  ...JOB,
  properties: {
    ...JOB.properties,
    transaction_time: { type: 'string', format: 'date-time' },
    parameters: { type: 'object', additionalProperties: true },
    timings: { type: 'object', additionalProperties: true },
    chunks: { type: 'object', additionalProperties: { type: 'integer' }, description: 'chunks per state' },
    files: {
      type: 'array',
      items: { type: 'object', properties: { id: { type: 'string' }, kind: { type: 'string' }, type: { type: 'string' }, count: { type: 'integer' }, bytes: { type: 'integer' } } },
    },
    totals: { type: 'object', properties: { files: { type: 'integer' }, resources: { type: 'integer' }, bytes: { type: 'integer' } } },
    errors: { type: 'array', items: { type: 'object', additionalProperties: true } },
  },
} as const;

const AUDIT_EVENT = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    time: { type: 'string', format: 'date-time' },
    action: { type: 'string' },
    outcome: { type: 'string', enum: ['success', 'failure'] },
    status: { type: 'integer', nullable: true },
    tenant: { type: 'string', nullable: true },
    client_id: { type: 'string', nullable: true },
    source: { type: 'string', nullable: true, description: 'IP address, or cli' },
    job_id: { type: 'string', nullable: true },
    request: { type: 'string', nullable: true },
    detail: { type: 'string', nullable: true },
  },
} as const;

const text = (description: string) => ({ type: 'string', maxLength: 200, description }) as const;

/**
 * Export jobs of every tenant and client, and the audit trail:
 *
 * - `GET /admin/jobs[?tenant&client&state=a,b&limit]` → `{ jobs: [...] }`, newest first
 * - `GET /admin/jobs/:id` → parameters, state, progress, files (counts, bytes), errors, timings
 * - `POST /admin/jobs/:id/cancel` → the job (deleted, its files removed; the client's status URL answers 404)
 * - `POST /admin/jobs/purge` `{ "completed_before": "2026-01-01" }` → `{ purged: [ids] }`
 * - `GET /admin/audit[?tenant&client&patient&job&action&outcome&from&to&limit&before]` → `{ events, next? }`, newest
 *   first; `&_format=fhir` → a searchset Bundle of AuditEvent. With `patient` and no `action`: the accepted
 *   kick-offs of the jobs whose patient set held that patient.
 */
export const operationsAdmin: AdminModule = (app, deps) => {
  const jobs = deps.manage.jobs;
  const actor = (request: FastifyRequest): AdminActor => ({ source: request.ip, request: `${request.method} ${request.url}` });
  const params = idParams('job id');

  app.get<{ Querystring: { tenant?: string; client?: string; state?: string; limit?: number } }>(
    '/admin/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List export jobs, newest first',
        querystring: {
          type: 'object',
          properties: {
            tenant: text('only this tenant'),
            client: text('only this client'),
            state: text(`only these states, comma-separated: ${JOB_STATES.join(', ')}`),
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 1000 },
          },
        },
        response: { 200: { type: 'object', properties: { jobs: { type: 'array', items: JOB } } }, ...ERROR_RESPONSES },
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
        tags: ['jobs'],
        summary: 'Delete the jobs that completed or failed before an instant, with their files',
        body: {
          type: 'object',
          required: ['completed_before'],
          properties: { completed_before: { type: 'string', maxLength: 40, description: 'ISO 8601 date or instant' } },
        },
        response: { 200: { type: 'object', properties: { purged: { type: 'array', items: { type: 'string' } } } }, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const value = request.body.completed_before;
      const before = Date.parse(value);
      if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(before)) throw invalid('completed_before must be an ISO 8601 date or instant.');
      return { purged: await jobs.purge(before, actor(request)) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/admin/jobs/:id',
    { schema: { tags: ['jobs'], summary: 'Show an export job', params, response: { 200: JOB_DETAIL, ...ERROR_RESPONSES } } },
    async (request) => jobs.show(request.params.id),
  );

  app.post<{ Params: { id: string } }>(
    '/admin/jobs/:id/cancel',
    { schema: { tags: ['jobs'], summary: 'Cancel (delete) an export job and remove its files', params, response: { 200: JOB, ...ERROR_RESPONSES } } },
    async (request) => jobs.cancel(request.params.id, actor(request)),
  );

  app.get<{ Querystring: AuditQueryInput & { _format?: string } }>(
    '/admin/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'Query the audit trail, newest first (JSON, or a FHIR Bundle of AuditEvent with _format=fhir)',
        querystring: {
          type: 'object',
          properties: {
            tenant: text('only this tenant'),
            client: text('only this client'),
            patient: text('only records of jobs whose patient set held this patient'),
            job: text('only records of this export job'),
            action: text('an action or a dotted prefix: token, export, export.kickoff, admin, …'),
            outcome: { type: 'string', enum: ['success', 'failure'] },
            from: text('at or after this instant (ISO 8601)'),
            to: text('before this instant (ISO 8601)'),
            before: text('the next page: records with an id below this one'),
            limit: text('at most this many (default 100, at most 1000)'),
            _format: { type: 'string', enum: ['json', 'fhir', 'json+fhir', 'application/fhir+json'] },
          },
        },
        response: {
          200: {
            type: 'object',
            description: 'JSON: { events, next? }; with _format=fhir, a searchset Bundle of AuditEvent',
            properties: { events: { type: 'array', items: AUDIT_EVENT }, next: { type: 'string' } },
            additionalProperties: true,
          },
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      if (!deps.audit) throw notFound('The audit trail is not available on this server.');
      const { _format: format, ...input } = request.query;
      const query = auditQuery(input);
      const events = await deps.audit.list(query);
      const last = events[events.length - 1];
      const url = (extra: Record<string, string>): string => {
        const search = new URLSearchParams();
        for (const [k, v] of Object.entries({ ...request.query, ...extra })) if (v !== undefined) search.set(k, String(v));
        return `${deps.origin()}/admin/audit?${search.toString()}`;
      };
      const next = last !== undefined && events.length === (query.limit ?? 100) ? url({ before: String(last.id) }) : undefined;
      if (format !== undefined && format !== 'json') {
        const { beforeId: _page, limit: _limit, ...counted } = query;
        const bundle = auditBundle(events, await deps.audit.count(counted), url({}), next);
        // Sent as text: the response schema describes the JSON form.
        return reply.type('application/fhir+json').serializer((v) => JSON.stringify(v)).send(bundle);
      }
      return { events: events.map(auditEventView), ...(next ? { next } : {}) };
    },
  );
};
