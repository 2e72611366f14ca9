import type { FastifyPluginAsync } from 'fastify';
import { capabilityStatement, type OperationName, OPERATION_URLS, operationDefinition } from '../../fhir/capability-statement.js';
import { forbidden, notFound } from '../../fhir/errors.js';
import { type AppContext, fhirBase } from '../context.js';
import { FHIR_JSON } from '../errors.js';

const VERSION = '0.1.0';

/** Discovery without authentication: the CapabilityStatement and the export OperationDefinitions. */
export function metadataRoutes(deps: AppContext): FastifyPluginAsync {
  return async (app) => {
    const requireTenant = async (tenant: string): Promise<void> => {
      const tenants = await deps.store.resources.listTenants();
      if (!tenants.includes(tenant)) throw forbidden(`Unknown tenant ${tenant}.`);
    };

    app.get<{ Params: { tenant: string } }>('/r4/:tenant/metadata', async (request, reply) => {
      const { tenant } = request.params;
      await requireTenant(tenant);
      const origin = deps.origin();
      return reply.type(FHIR_JSON).send(capabilityStatement(fhirBase(origin, tenant), deps.auth.tokenUrl(origin, tenant), VERSION));
    });

    app.get<{ Params: { tenant: string; id: string } }>('/r4/:tenant/OperationDefinition/:id', async (request, reply) => {
      const { tenant, id } = request.params;
      await requireTenant(tenant);
      if (!(id in OPERATION_URLS)) throw notFound(`OperationDefinition/${id} is not known.`);
      return reply.type(FHIR_JSON).send(operationDefinition(id as OperationName));
    });
  };
}
