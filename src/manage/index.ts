/**
 * The management plane's domain services: what the `flatfhir` management commands and the admin API do, in one
 * place. Routes and commands only translate (HTTP or argv in, JSON out); the rules live here. Failures are
 * FhirErrors (status, code, a message meant for the operator), which the admin API answers as OperationOutcomes
 * and the CLI prints. Every method takes and returns JSON-serialisable values, so the CLI's remote mode
 * (`remote.ts`) offers the same interface over the admin API.
 */
import type { ManageDeps } from './deps.js';
import { createJobsAdmin, type JobsAdmin } from './jobs.js';
import { type TenantService, tenantService } from './tenants.js';

export type { ManageDeps } from './deps.js';

export interface Management {
  tenants: TenantService;
  /** Export jobs of every tenant and client: list, show, cancel, purge. */
  jobs: JobsAdmin;
}

export function createManagement(deps: ManageDeps): Management {
  return {
    tenants: tenantService(deps),
    jobs: createJobsAdmin({ jobs: deps.store.jobs, storage: deps.storage, audit: deps.audit, log: deps.log }),
  };
}
