import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { FhirError, invalid, notAcceptable, unsupportedMediaType } from '../../fhir/errors.js';
import { parseSqlOperation, requestParameters } from '../../views/request.js';
import { runSqlRun } from '../../views/run.js';
import type { SqlExportService } from '../../views/export-job.js';
import { type AppContext, authenticate, fhirBase } from '../context.js';

interface TenantParams {
  tenant: string;
}

function checkContentType(request: FastifyRequest): void {
  const ct = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (ct !== 'application/fhir+json' && ct !== 'application/json') {
    throw unsupportedMediaType(`Content-Type "${request.headers['content-type'] ?? ''}" is not supported: send a Parameters resource as application/fhir+json.`);
  }
}

/** Whether the client asks for a FHIR representation (a Binary envelope around a flat result). */
function wantsFhir(request: FastifyRequest): boolean {
  const accept = request.headers.accept ?? '';
  return accept
    .split(',')
    .map((a) => a.split(';')[0]?.trim().toLowerCase())
    .some((a) => a === 'application/fhir+json');
}

/**
 * SQL on FHIR operations: `$sql-run` (synchronous), `$sql-export` (asynchronous, on the bulk export engine; also
 * at `ViewDefinition/$viewdefinition-export`), their status and result URLs.
 */
export function viewRoutes(deps: AppContext & { sqlExports: SqlExportService }): FastifyPluginAsync {
  return async (app) => {
    const run = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply): Promise<FastifyReply> => {
      const caller = await authenticate(deps, request);
      if (request.method === 'POST') checkContentType(request);
      const tenant = request.params.tenant;
      const params = requestParameters(request.method, request.query as Record<string, unknown>, request.body);
      const parsed = await parseSqlOperation('run', params, { views: deps.store.views, tenant });
      const result = await runSqlRun(
        {
          resources: deps.store.resources,
          limits: { maxRows: deps.config.views.runMaxRows, maxSeconds: deps.config.views.runMaxSeconds },
          duckdb: { memoryLimit: deps.config.views.duckdbMemoryLimit },
          ...(deps.now ? { now: deps.now } : {}),
        },
        tenant,
        caller,
        parsed,
      );
      if (parsed.format !== 'fhir' && wantsFhir(request)) {
        if (parsed.format === 'parquet' || parsed.format === 'ndjson') {
          throw notAcceptable(`A Binary envelope is not offered for _format ${parsed.format}; accept ${result.contentType}.`);
        }
        return reply
          .code(200)
          .type('application/fhir+json')
          .send({ resourceType: 'Binary', contentType: result.contentType, data: result.body.toString('base64') });
      }
      return reply.code(200).type(result.contentType).send(result.body);
    };
    app.get<{ Params: TenantParams }>('/r4/:tenant/$sql-run', run);
    app.post<{ Params: TenantParams }>('/r4/:tenant/$sql-run', run);

    const kickoff = async (request: FastifyRequest<{ Params: TenantParams }>, reply: FastifyReply): Promise<FastifyReply> => {
      const caller = await authenticate(deps, request);
      const prefer = String(request.headers.prefer ?? '').toLowerCase();
      if (!/respond-async/.test(prefer)) throw new FhirError(400, 'required', 'The Prefer header must include respond-async.');
      checkContentType(request);
      const tenant = request.params.tenant;
      const params = requestParameters('POST', {}, request.body);
      const parsed = await parseSqlOperation('export', params, { views: deps.store.views, tenant });
      const base = fhirBase(deps.origin(), tenant);
      const job = await deps.sqlExports.kickoff({ tenant, caller, request: parsed, requestUrl: `${deps.origin()}${request.url.split('?')[0]}`, fhirBase: base });
      const status = `${base}/sql-export/jobs/${job.id}`;
      return reply
        .code(202)
        .header('content-location', status)
        .type('application/fhir+json')
        .send({
          resourceType: 'Parameters',
          parameter: [
            { name: 'exportId', valueString: job.id },
            { name: 'status', valueCode: 'accepted' },
            { name: 'location', valueUri: status },
          ],
        });
    };
    const getKickoff = async (): Promise<never> => {
      throw new FhirError(400, 'required', '$sql-export creates a job: POST a Parameters resource with Prefer: respond-async.');
    };
    for (const url of ['/r4/:tenant/$sql-export', '/r4/:tenant/ViewDefinition/$viewdefinition-export']) {
      app.post<{ Params: TenantParams }>(url, kickoff);
      app.get(url, { exposeHeadRoute: false }, getKickoff);
    }

    app.get<{ Params: TenantParams & { jobId: string } }>('/r4/:tenant/sql-export/jobs/:jobId', async (request, reply) => {
      const caller = await authenticate(deps, request);
      const { tenant, jobId } = request.params;
      const status = await deps.sqlExports.status(tenant, jobId, caller);
      if (status.state === 'in-progress') {
        return reply
          .code(202)
          .header('x-progress', status.progress)
          .header('retry-after', String(status.retryAfter))
          .type('application/fhir+json')
          .send(status.body);
      }
      return reply.code(303).header('location', `${fhirBase(deps.origin(), tenant)}/sql-export/jobs/${jobId}/result`).send();
    });

    app.get<{ Params: TenantParams & { jobId: string } }>('/r4/:tenant/sql-export/jobs/:jobId/result', async (request, reply) => {
      const caller = await authenticate(deps, request);
      const { tenant, jobId } = request.params;
      const manifest = await deps.sqlExports.result(tenant, jobId, caller, fhirBase(deps.origin(), tenant));
      return reply.code(200).type('application/fhir+json').send(manifest);
    });

    app.delete<{ Params: TenantParams & { jobId: string } }>('/r4/:tenant/sql-export/jobs/:jobId', async (request, reply) => {
      const caller = await authenticate(deps, request);
      const { tenant, jobId } = request.params;
      await deps.sqlExports.status(tenant, jobId, caller);
      await deps.exports.cancel(tenant, jobId, caller);
      return reply.code(202).send();
    });

    app.get<{ Params: TenantParams & { jobId: string; index: string } }>('/r4/:tenant/sql-export/jobs/:jobId/outputs/:index', async (request, reply) => {
      const caller = await authenticate(deps, request);
      const { tenant, jobId } = request.params;
      const index = Number(request.params.index);
      if (!Number.isInteger(index) || index < 0) throw invalid('The output index is a number.');
      const location = await deps.sqlExports.derivedLocation(tenant, jobId, index, caller, deps.origin());
      return reply.code(307).header('location', location).header('cache-control', 'no-store').send();
    });
  };
}
