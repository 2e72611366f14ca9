import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { createRateLimiter } from '../../auth/rate-limit.js';
import { FhirError, methodNotAllowed, notFound, throttled } from '../../fhir/errors.js';
import type { KickoffRefusal } from '../../monitoring/ports.js';
import type { JobStatusView } from '../../export/service.js';
import type { ExportKind } from '../../store/ports.js';
import { formatProgress } from '../../export/status-view.js';
import { auditRequest, failureOf } from '../audit.js';
import { type AppContext, authenticate, checkJsonAccept, fhirBase } from '../context.js';

interface TenantParams {
  tenant: string;
}

/** The per-client kick-off rate limit's 429 (told apart from the one-export rule's in metrics). */
class RateLimited extends FhirError {
  constructor(message: string, retryAfterSeconds: number) {
    const base = throttled(message, retryAfterSeconds);
    super(base.status, base.code, message, { headers: base.headers });
  }
}

/** Why the kick-off that threw `e` was refused, for metrics (a 429 here is the one-export rule; the route's rate limit is told apart). */
function refusal(e: unknown): KickoffRefusal {
  if (!(e instanceof FhirError)) return 'error';
  switch (e.status) {
    case 400:
    case 415:
    case 422:
      return 'invalid';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 406:
      return 'not-acceptable';
    case 409:
      return 'duplicate';
    case 429:
      return 'export-in-progress';
    default:
      return 'error';
  }
}

const STATUS_LINES: Record<number, string> = { 200: '200 OK', 202: '202 Accepted', 500: '500 Internal Server Error' };

/**
 * Answers a status view. With `Prefer: separate-export-status` at kick-off the HTTP status is the status
 * request's own (200) and the job's goes in `X-Export-Status`.
 */
function sendStatus(reply: FastifyReply, view: JobStatusView): FastifyReply {
  const jobStatus = view.state === 'in-progress' ? 202 : view.state === 'failed' ? view.error.status : 200;
  if (view.separate) reply.header('x-export-status', STATUS_LINES[jobStatus] ?? String(jobStatus));
  reply.code(view.separate ? 200 : jobStatus);
  switch (view.state) {
    case 'in-progress':
      reply.header('x-progress', view.progress).header('retry-after', String(view.retryAfter));
      return view.manifest ? reply.type('application/json; charset=utf-8').send(view.manifest) : reply.send();
    case 'failed':
      return reply.type('application/fhir+json; charset=utf-8').send(view.error.toOperationOutcome());
    case 'completed':
      return reply.header('expires', view.expires.toUTCString()).type('application/json; charset=utf-8').send(view.manifest);
  }
}

/** Kick-off, status, delete and file endpoints of the bulk export. */
export function exportRoutes(deps: AppContext): FastifyPluginAsync {
  return async (app) => {
    const kickoffs = createRateLimiter({ limit: deps.config.auth.kickoffsPerMinute, windowMs: 60_000, ...(deps.now ? { now: deps.now } : {}) });
    const kickoff = async (request: FastifyRequest, reply: FastifyReply, kind: ExportKind, groupId?: string): Promise<FastifyReply> => {
      try {
        const answered = await accept(request, reply, kind, groupId);
        deps.metrics?.kickoff('accepted');
        return answered;
      } catch (e) {
        deps.metrics?.kickoff(e instanceof RateLimited ? 'rate-limited' : refusal(e));
        const tenant = (request.params as TenantParams).tenant;
        auditRequest(deps, request, { action: 'export.kickoff', outcome: 'failure', ...failureOf(e), tenant, clientId: request.caller?.clientId ?? null });
        throw e;
      }
    };
    const accept = async (request: FastifyRequest, reply: FastifyReply, kind: ExportKind, groupId?: string): Promise<FastifyReply> => {
      const caller = await authenticate(deps, request);
      // Only accepted kick-offs count: a refused one (4xx) is given back, so a client that gets its requests
      // wrong does not use up its allowance (one export in progress per client already bounds real work).
      const limitKey = `${caller.tenant}:${caller.clientId}`;
      const allowed = kickoffs.take(limitKey);
      if (!allowed.ok) throw new RateLimited('Too many export kick-offs from this client; try again later.', allowed.retryAfterSeconds);
      const tenant = (request.params as TenantParams).tenant;
      const origin = deps.origin();
      const base = fhirBase(origin, tenant);
      const job = await deps.exports.kickoff({
        tenant,
        kind,
        method: request.method,
        ...(groupId !== undefined ? { groupId } : {}),
        query: request.query as Record<string, string | string[] | undefined>,
        body: request.method === 'POST' ? request.body : undefined,
        headers: {
          ...(request.headers.accept !== undefined ? { accept: request.headers.accept } : {}),
          ...(request.headers.prefer !== undefined ? { prefer: String(request.headers.prefer) } : {}),
          ...(request.headers['content-type'] !== undefined ? { contentType: request.headers['content-type'] } : {}),
        },
        caller,
        requestUrl: `${origin}${request.method === 'POST' ? request.url.split('?')[0] : request.url}`,
        fhirBase: base,
      }).catch((e: unknown) => {
        kickoffs.refund(limitKey);
        throw e;
      });
      auditRequest(deps, request, { action: 'export.kickoff', outcome: 'success', status: 202, tenant, clientId: caller.clientId, jobId: job.id });
      reply.code(202).header('content-location', `${base}/bulk-export/jobs/${job.id}`);
      if ((job.params as { separateStatus?: boolean }).separateStatus) reply.header('preference-applied', 'respond-async, separate-export-status');
      return reply.send();
    };

    // A kick-off starts a job, so HEAD (link checkers, monitors) is not one: 405, and nothing happens.
    const noHead = { exposeHeadRoute: false };
    const headKickoff = (allow: string[]) => async (): Promise<never> => {
      throw methodNotAllowed(`HEAD does not start an export; kick off with ${allow.join(' or ')}.`, allow);
    };
    app.get<{ Params: TenantParams & { id: string } }>('/r4/:tenant/Group/:id/$export', noHead, (req, reply) =>
      kickoff(req, reply, 'group', req.params.id),
    );
    app.post<{ Params: TenantParams & { id: string } }>('/r4/:tenant/Group/:id/$export', (req, reply) =>
      kickoff(req, reply, 'group', req.params.id),
    );
    app.get('/r4/:tenant/Patient/$export', noHead, (req, reply) => kickoff(req, reply, 'patient'));
    app.post('/r4/:tenant/Patient/$export', (req, reply) => kickoff(req, reply, 'patient'));
    app.get('/r4/:tenant/$export', noHead, (req, reply) => kickoff(req, reply, 'system'));
    app.post('/r4/:tenant/$export', (req, reply) => kickoff(req, reply, 'system'));
    for (const url of ['/r4/:tenant/Group/:id/$export', '/r4/:tenant/Patient/$export', '/r4/:tenant/$export']) {
      app.head(url, headKickoff(['GET', 'POST']));
    }

    app.get<{ Params: TenantParams & { jobId: string } }>('/r4/:tenant/bulk-export/jobs/:jobId', async (request, reply) => {
      const caller = await authenticate(deps, request);
      checkJsonAccept(request);
      const { tenant, jobId } = request.params;
      const base = fhirBase(deps.origin(), tenant);
      const view = await deps.exports.status(tenant, jobId, caller, base);
      if (view.state === 'completed') {
        auditRequest(deps, request, { action: 'export.status', outcome: 'success', status: 200, tenant, clientId: caller.clientId, jobId, detail: `${view.manifest.output.length} output files` });
      }
      return sendStatus(reply, view);
    });

    // Further manifest pages of a job with partial manifests (the `link` next of the page before).
    app.get<{ Params: TenantParams & { jobId: string; page: string } }>('/r4/:tenant/bulk-export/jobs/:jobId/manifests/:page', async (request, reply) => {
      const caller = await authenticate(deps, request);
      checkJsonAccept(request);
      const { tenant, jobId } = request.params;
      const page = /^[1-9]\d{0,8}$/.test(request.params.page) ? Number(request.params.page) : undefined;
      if (page === undefined) throw notFound(`Manifest page ${request.params.page} was not found.`);
      const view = await deps.exports.status(tenant, jobId, caller, fhirBase(deps.origin(), tenant), page);
      return sendStatus(reply, view);
    });

    /**
     * The caller's own export jobs, newest first, with their status URLs (an extension of the Bulk Data IG): a
     * client that lost a status URL finds its job here, to poll or DELETE it. Deleted and expired jobs are absent.
     */
    app.get<{ Params: TenantParams }>('/r4/:tenant/bulk-export/jobs', async (request, reply) => {
      const caller = await authenticate(deps, request);
      checkJsonAccept(request);
      const { tenant } = request.params;
      const base = fhirBase(deps.origin(), tenant);
      const jobs = await deps.exports.listOwn(tenant, caller);
      return reply
        .header('cache-control', 'no-store')
        .type('application/json; charset=utf-8')
        .send({
          jobs: jobs.map((j) => ({
            id: j.id,
            status_url: `${base}/bulk-export/jobs/${j.id}`,
            state: j.status,
            request: j.request,
            requested_at: new Date(j.createdAt).toISOString(),
            completed_at: j.completedAt === null ? null : new Date(j.completedAt).toISOString(),
            expires_at: new Date(j.expiresAt).toISOString(),
            ...(j.status === 'in-progress' ? { progress: formatProgress(j.doneResources, j.totalResources) } : {}),
          })),
        });
    });

    app.delete<{ Params: TenantParams & { jobId: string } }>('/r4/:tenant/bulk-export/jobs/:jobId', async (request, reply) => {
      const caller = await authenticate(deps, request);
      const { tenant, jobId } = request.params;
      try {
        checkJsonAccept(request);
        await deps.exports.cancel(tenant, jobId, caller);
      } catch (e) {
        auditRequest(deps, request, { action: 'export.delete', outcome: 'failure', ...failureOf(e), tenant, clientId: caller.clientId, jobId });
        throw e;
      }
      auditRequest(deps, request, { action: 'export.delete', outcome: 'success', status: 202, tenant, clientId: caller.clientId, jobId });
      return reply.code(202).send();
    });

    app.get<{ Params: TenantParams & { fileId: string } }>('/r4/:tenant/bulk-export/files/:fileId', async (request, reply) => {
      const caller = await authenticate(deps, request);
      const { tenant, fileId } = request.params;
      let file: { location: string; jobId: string };
      try {
        file = await deps.exports.fileLocation(tenant, fileId, caller, deps.origin());
      } catch (e) {
        auditRequest(deps, request, { action: 'export.download', outcome: 'failure', ...failureOf(e), tenant, clientId: caller.clientId });
        throw e;
      }
      auditRequest(deps, request, { action: 'export.download', outcome: 'success', status: 307, tenant, clientId: caller.clientId, jobId: file.jobId });
      return reply.code(307).header('location', file.location).header('cache-control', 'no-store').send();
    });
  };
}
