import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { EXPORT_TYPES } from '../../fhir/resource-types.js';
import type { ExportParams } from '../../export/kickoff.js';
import { wholeManifest } from '../../export/manifest.js';
import { FhirError, invalid, notFound, unauthorized } from '../../fhir/errors.js';
import { parseMemberFilter, resolveCriterion } from '../../fhir/member-filter.js';
import type { AuditStore, ExportJob, JobStore } from '../../store/ports.js';
import { adminAuth } from '../admin-auth.js';
import { login, logout, requestSession, sessionCredential, sessionDeps } from '../console-session.js';
import type { AppContext } from '../context.js';
import type { DashboardStats } from '../../manage/views.js';

/** The built console (`npm run build` writes it): `dist/console` of the package, from src/ or dist/ alike. */
export const CONSOLE_ASSETS = fileURLToPath(new URL('../../../dist/console/', import.meta.url));

const HOUR = 60 * 60 * 1000;

const conflict = (msg: string): FhirError => new FhirError(409, 'conflict', msg);

/** The dashboard's figures over the last day, from the jobs of the store (every API node sees the same). */
export async function dashboardStats(
  jobs: JobStore,
  audit: Pick<AuditStore, 'count'>,
  now: number,
  tenant?: string,
): Promise<DashboardStats> {
  const since = now - 24 * HOUR;
  const all = (await jobs.listJobs({})).filter((j) => tenant === undefined || j.tenant === tenant);
  const finished = all.filter((j): j is ExportJob & { completedAt: number } => j.completedAt !== null && j.completedAt > since);
  // 24 hourly buckets ending with the current hour (the first one also takes the few minutes before it).
  const firstHour = Math.floor(now / HOUR) * HOUR - 23 * HOUR;
  const buckets = Array.from({ length: 24 }, (_, i) => ({ start: firstHour + i * HOUR, resources: 0, bytes: 0 }));
  let resources = 0;
  let bytes = 0;
  for (const job of finished) {
    if (job.status !== 'completed' && job.status !== 'deleted') continue;
    const files = await jobs.listFiles(job.id);
    const jobBytes = files.reduce((n, f) => n + f.bytes, 0);
    const jobResources = files.filter((f) => f.kind === 'output').reduce((n, f) => n + f.count, 0);
    resources += jobResources;
    bytes += jobBytes;
    const bucket = buckets[Math.min(23, Math.max(0, Math.floor((job.completedAt - buckets[0]!.start) / HOUR)))]!;
    bucket.resources += jobResources;
    bucket.bytes += jobBytes;
  }
  return {
    since: new Date(since).toISOString(),
    exportsRunning: all.filter((j) => j.status === 'in-progress').length,
    exportsFinished: finished.filter((j) => j.status !== 'failed').length,
    exportsFailed: finished.filter((j) => j.status === 'failed').length,
    resourcesExported: resources,
    bytesExported: bytes,
    failedAuthentications: await audit.count({ action: 'token', outcome: 'failure', from: since, ...(tenant !== undefined ? { tenant } : {}) }),
    throughput: buckets.map((b) => ({ start: new Date(b.start).toISOString(), resources: b.resources, bytes: b.bytes })),
  };
}

/**
 * The admin web console, on when an admin credential is configured (else every /console URL is 404):
 *
 * - `/console/`: the built single-page console (static files, nothing fetched elsewhere at run time)
 * - `POST /admin/session` `{ token }`: logs in with the admin credential → `{ csrfToken, expiresAt }` and the
 *   session cookie; `GET /admin/session` → the same for the cookie's session (401 without one);
 *   `DELETE /admin/session` → 204, logged out
 * - `GET /admin/stats[?tenant=T]`: the dashboard's figures over the last day (admin token or console session)
 * - `GET /admin/export-types`: the resource types an export writes (the scopes a client can be given) and the most
 *   members a group may have
 * - `POST /admin/tenants/:tenant/groups/preview` `{ member_filter: [...] }` or `{ from_search }`: the patients the
 *   criteria match now (count, the first 50, and whether past the group member limit), before a group is saved
 * - `GET /admin/jobs/:id/manifest`: a completed job's manifest, as its client got it (409 before it completes)
 */
export function consoleRoutes(ctx: AppContext): FastifyPluginAsync {
  return async (app) => {
    const adminToken = ctx.config.auth.adminToken;
    if (!adminToken) return;
    const session = sessionDeps(ctx, adminToken);
    const admin = adminAuth(ctx.config, ctx.auth, { alternative: sessionCredential(session) });
    const now = ctx.now ?? Date.now;

    app.addHook('onSend', async (request, reply) => {
      if (request.url.startsWith('/admin/')) {
        reply.header('cache-control', 'no-store');
        return;
      }
      reply.header('cache-control', 'no-cache');
      reply.header(
        'content-security-policy',
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
      );
      reply.header('x-content-type-options', 'nosniff');
      reply.header('referrer-policy', 'no-referrer');
      reply.header('x-frame-options', 'DENY');
    });

    if (existsSync(CONSOLE_ASSETS)) {
      await app.register(fastifyStatic, { root: CONSOLE_ASSETS, prefix: '/console/', decorateReply: false, index: ['index.html'], cacheControl: false });
      app.get('/console', async (_request, reply) => reply.redirect('/console/'));
    } else {
      ctx.log.warn({ assets: CONSOLE_ASSETS }, 'the console is not built (npm run build): /console/ is off');
    }

    app.post('/admin/session', async (request, reply) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('Send a JSON object: { "token": "<admin credential>" }.');
      const result = await login(session, (body as Record<string, unknown>)['token'], reply);
      ctx.log.info('console login');
      return result;
    });

    app.get('/admin/session', async (request) => {
      const s = await requestSession(session, request);
      if (!s) throw unauthorized('No console session.');
      return { csrfToken: s.csrfToken, expiresAt: new Date(s.expiresAt).toISOString() };
    });

    app.delete('/admin/session', async (request, reply) => {
      await logout(session, request, reply);
      return reply.code(204).send();
    });

    const adminOnly = { onRequest: async (request: FastifyRequest) => admin?.check(request.headers.authorization, request) };

    app.get<{ Querystring: { tenant?: string } }>('/admin/stats', adminOnly, async (request) => {
      const tenant = typeof request.query.tenant === 'string' && request.query.tenant !== '' ? request.query.tenant : undefined;
      return dashboardStats(ctx.store.jobs, ctx.store.audit, now(), tenant);
    });

    app.get('/admin/export-types', adminOnly, async () => ({ types: [...EXPORT_TYPES].sort(), maxGroupMembers: ctx.config.export.maxGroupMembers }));

    // What a group would hold if saved now: the criteria evaluated as the group service evaluates them.
    app.post<{ Params: { tenant: string }; Body: { member_filter?: string[]; from_search?: string } }>(
      '/admin/tenants/:tenant/groups/preview',
      {
        ...adminOnly,
        schema: {
          params: { type: 'object', required: ['tenant'], properties: { tenant: { type: 'string', maxLength: 64 } } },
          body: {
            type: 'object',
            additionalProperties: false,
            properties: {
              member_filter: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', maxLength: 4000 } },
              from_search: { type: 'string', maxLength: 4000 },
            },
          },
        },
      },
      async (request) => {
        const { tenant } = request.params;
        if (!(await ctx.store.tenants.getTenant(tenant))) throw notFound(`No tenant ${tenant}.`);
        const texts = request.body.member_filter ?? (request.body.from_search !== undefined ? [request.body.from_search] : []);
        if (texts.length === 0) throw invalid('Give member_filter criteria or a from_search.');
        const at = now();
        const criteria = texts.map((text) => {
          const parsed = parseMemberFilter(text);
          if ('error' in parsed) throw invalid(`This criterion cannot be evaluated: ${parsed.error}.`);
          return resolveCriterion(parsed.filter, at);
        });
        const limit = ctx.config.export.maxGroupMembers;
        const ids = await ctx.store.cohorts.matchPatients(tenant, criteria, limit + 1);
        return { count: Math.min(ids.length, limit), over_limit: ids.length > limit, limit, members: ids.slice(0, 50), evaluated_at: new Date(at).toISOString() };
      },
    );

    // The manifest a finished job's client got (its file URLs need the client's token, as ever).
    app.get<{ Params: { id: string } }>('/admin/jobs/:id/manifest', adminOnly, async (request) => {
      const job = await ctx.store.jobs.getJob(request.params.id);
      if (!job) throw notFound(`No export job ${request.params.id}.`);
      if (job.status !== 'completed') throw conflict(`Export job ${job.id} is ${job.status}: only a completed job has a manifest.`);
      const fhirBase = `${ctx.origin()}/r4/${job.tenant}`;
      return wholeManifest(job, job.params as ExportParams, await ctx.store.jobs.listFiles(job.id), {
        file: (f) => `${fhirBase}/bulk-export/files/${f.id}`,
        page: (k) => `${fhirBase}/bulk-export/jobs/${job.id}${k === 0 ? '' : `/manifests/${k}`}`,
      });
    });
  };
}
