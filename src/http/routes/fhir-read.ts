import type { FastifyPluginAsync } from 'fastify';
import { forbidden, notFound } from '../../fhir/errors.js';
import { groupBundle, groupMatches, parseGroupSearch } from '../../fhir/group-search.js';
import { type AppContext, authenticate, fhirBase } from '../context.js';
import { FHIR_JSON } from '../errors.js';

/** The few FHIR reads a bulk client needs: Group (to find groups and see members) and Binary (attachment targets). */
export function fhirReadRoutes(deps: AppContext): FastifyPluginAsync {
  return async (app) => {
    app.get<{ Params: { tenant: string }; Querystring: Record<string, string | string[]> }>('/r4/:tenant/Group', async (request, reply) => {
      const caller = await authenticate(deps, request);
      if (!caller.canRead('Group')) throw forbidden('The access token does not grant read access to Group.');
      const search = parseGroupSearch(request.query);
      const { tenant } = request.params;
      const matches: string[] = [];
      for await (const batch of deps.store.resources.scan({ tenant, type: 'Group', until: Number.MAX_SAFE_INTEGER })) {
        for (const r of batch) if (r.json && groupMatches(JSON.parse(r.json) as Parameters<typeof groupMatches>[0], search)) matches.push(r.json);
      }
      const base = fhirBase(deps.origin(), tenant);
      const self = `${base}/Group${request.url.includes('?') ? request.url.slice(request.url.indexOf('?')) : ''}`;
      return reply.type(FHIR_JSON).send(groupBundle(matches, search, self, base));
    });

    app.get<{ Params: { tenant: string; id: string } }>('/r4/:tenant/Group/:id', async (request, reply) => {
      const caller = await authenticate(deps, request);
      if (!caller.canRead('Group')) throw forbidden('The access token does not grant read access to Group.');
      const r = await deps.store.resources.read(request.params.tenant, 'Group', request.params.id);
      if (!r || r.deleted || !r.json) throw notFound(`Group/${request.params.id} was not found.`);
      return reply.type(FHIR_JSON).header('etag', `W/"${r.versionId}"`).header('last-modified', new Date(r.lastUpdated).toUTCString()).send(r.json);
    });

    app.get<{ Params: { tenant: string; id: string } }>('/r4/:tenant/Binary/:id', async (request, reply) => {
      const caller = await authenticate(deps, request);
      if (!caller.canRead('DocumentReference') && !caller.canRead('DiagnosticReport') && !caller.canRead('Binary')) {
        throw forbidden('Reading a Binary needs read access to DocumentReference or DiagnosticReport.');
      }
      const r = await deps.store.resources.read(request.params.tenant, 'Binary', request.params.id);
      if (!r || r.deleted || !r.json) throw notFound(`Binary/${request.params.id} was not found.`);
      const accept = (request.headers.accept ?? '').toLowerCase();
      if (accept.includes('application/fhir+json') || accept.includes('application/json')) {
        return reply.type(FHIR_JSON).send(r.json);
      }
      const binary = JSON.parse(r.json) as { contentType?: string; data?: string };
      return reply
        .type(binary.contentType ?? 'application/octet-stream')
        .header('x-content-type-options', 'nosniff')
        .send(Buffer.from(binary.data ?? '', 'base64'));
    });
  };
}
