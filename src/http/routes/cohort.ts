import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { createRateLimiter } from '../../auth/rate-limit.js';
import { forbidden, throttled } from '../../fhir/errors.js';
import { type AsyncCohortStatus, createBulkCohortService } from '../../manage/bulk-cohort.js';
import { auditRequest, failureOf } from '../audit.js';
import { type AppContext, authenticate, checkJsonAccept, fhirBase } from '../context.js';
import { FHIR_JSON } from '../errors.js';

type TenantParams = { tenant: string };

const respondAsync = (request: FastifyRequest): boolean =>
  String(request.headers.prefer ?? '')
    .split(/[,;]/)
    .some((p) => p.trim().toLowerCase() === 'respond-async');

/**
 * The Bulk Cohort API: `POST [base]/Group` (synchronous, or with `Prefer: respond-async` the asynchronous
 * interaction pattern: status at `[base]/async-requests/{id}`, DELETE cancels), `DELETE [base]/Group/{id}`.
 * Creating needs `c` on Group in the token's scopes, deleting `d` (`system/Group.cd`). Accepted creations are
 * rate-limited per client (`auth.groupCreatesPerMinute`); a refused one is given back.
 */
export function cohortRoutes(deps: AppContext): FastifyPluginAsync {
  return async (app) => {
    const cohorts = createBulkCohortService({
      store: deps.store,
      maxGroupMembers: deps.config.export.maxGroupMembers,
      retentionMs: deps.config.export.retentionSeconds * 1000,
      log: deps.log.child({ component: 'bulk-cohort' }),
      audit: (event) => deps.audit?.record(event),
      ...(deps.now ? { now: deps.now } : {}),
    });
    app.addHook('onClose', async () => cohorts.close());
    const creates = createRateLimiter({ limit: deps.config.auth.groupCreatesPerMinute, windowMs: 60_000, ...(deps.now ? { now: deps.now } : {}) });

    const statusUrl = (tenant: string, id: string): string => `${fhirBase(deps.origin(), tenant)}/async-requests/${id}`;
    const groupLocation = (tenant: string, id: string, version: number): string => `${fhirBase(deps.origin(), tenant)}/Group/${id}/_history/${version}`;

    app.post<{ Params: TenantParams }>('/r4/:tenant/Group', async (request, reply) => {
      const { tenant } = request.params;
      const async = respondAsync(request);
      try {
        const caller = await authenticate(deps, request);
        if (!caller.canWrite('Group', 'c')) throw forbidden('The access token does not grant creating Groups (system/Group.c).');
        // Only accepted creations count: one refused (400, 422…) is given back, like a refused export kick-off.
        const limitKey = `${caller.tenant}:${caller.clientId}`;
        const allowed = creates.take(limitKey);
        if (!allowed.ok) throw throttled('Too many Group creations from this client; try again later.', allowed.retryAfterSeconds);
        const refund = (e: unknown): never => {
          creates.refund(limitKey);
          throw e;
        };
        if (async) {
          const accepted = await cohorts.accept(tenant, caller.clientId, request.body).catch(refund);
          auditRequest(deps, request, { action: 'group.create', outcome: 'success', status: 202, tenant, clientId: caller.clientId, detail: `async request ${accepted.id}` });
          return reply.code(202).header('content-location', statusUrl(tenant, accepted.id)).send();
        }
        const created = await cohorts.create(tenant, request.body).catch(refund);
        auditRequest(deps, request, { action: 'group.create', outcome: 'success', status: 201, tenant, clientId: caller.clientId, detail: `Group/${created.id}` });
        return reply
          .code(201)
          .type(FHIR_JSON)
          .header('location', groupLocation(tenant, created.id, created.versionId))
          .header('etag', `W/"${created.versionId}"`)
          .header('last-modified', new Date(created.lastUpdated).toUTCString())
          .send(created.json);
      } catch (e) {
        auditRequest(deps, request, { action: 'group.create', outcome: 'failure', ...failureOf(e), tenant, clientId: request.caller?.clientId ?? null });
        throw e;
      }
    });

    app.get<{ Params: TenantParams & { id: string } }>('/r4/:tenant/async-requests/:id', async (request, reply) => {
      const caller = await authenticate(deps, request);
      checkJsonAccept(request);
      const { tenant, id } = request.params;
      const status: AsyncCohortStatus = await cohorts.status(tenant, caller.clientId, id);
      if (status.state === 'pending') return reply.code(202).header('x-progress', status.progress).header('retry-after', String(status.retryAfterSeconds)).send();
      if (status.state === 'failed') return reply.code(status.error.status).type(FHIR_JSON).send(status.error.toOperationOutcome());
      const { group } = status;
      const stored = await deps.store.resources.read(tenant, 'Group', group.id);
      const live = stored && !stored.deleted && stored.json ? stored.json : undefined;
      const base = fhirBase(deps.origin(), tenant);
      const bundle = {
        resourceType: 'Bundle',
        type: 'batch-response',
        entry: [
          {
            fullUrl: `${base}/Group/${group.id}`,
            ...(live ? { resource: JSON.parse(live) as unknown } : {}),
            response: {
              status: '201 Created',
              location: groupLocation(tenant, group.id, group.versionId),
              etag: `W/"${group.versionId}"`,
              lastModified: new Date(group.lastUpdated).toISOString(),
            },
          },
        ],
      };
      return reply.code(200).type(FHIR_JSON).send(bundle);
    });

    app.delete<{ Params: TenantParams & { id: string } }>('/r4/:tenant/async-requests/:id', async (request, reply) => {
      const caller = await authenticate(deps, request);
      checkJsonAccept(request);
      const { tenant, id } = request.params;
      const cancelled = await cohorts.cancel(tenant, caller.clientId, id);
      auditRequest(deps, request, {
        action: 'group.create.cancel',
        outcome: 'success',
        status: 202,
        tenant,
        clientId: caller.clientId,
        detail: cancelled.wasPending ? `async request ${id} cancelled before the group was created` : `async request ${id} forgotten${cancelled.groupId ? ` (Group/${cancelled.groupId} stays)` : ''}`,
      });
      return reply.code(202).send();
    });

    app.delete<{ Params: TenantParams & { id: string } }>('/r4/:tenant/Group/:id', async (request, reply) => {
      const { tenant, id } = request.params;
      try {
        const caller = await authenticate(deps, request);
        if (!caller.canWrite('Group', 'd')) throw forbidden('The access token does not grant deleting Groups (system/Group.d).');
        await cohorts.remove(tenant, id);
        auditRequest(deps, request, { action: 'group.delete', outcome: 'success', status: 204, tenant, clientId: caller.clientId, detail: `Group/${id}` });
        return reply.code(204).send();
      } catch (e) {
        auditRequest(deps, request, { action: 'group.delete', outcome: 'failure', ...failureOf(e), tenant, clientId: request.caller?.clientId ?? null, detail: `Group/${id}: ${failureOf(e).detail}` });
        throw e;
      }
    });
  };
}
