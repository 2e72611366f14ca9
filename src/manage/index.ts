/**
 * The management plane's domain services: what the `flatfhir` management commands and the admin API do, in one
 * place. Routes and commands only translate (HTTP or argv in, JSON out); the rules live here. Failures are
 * FhirErrors (status, code, a message meant for the operator), which the admin API answers as OperationOutcomes
 * and the CLI prints.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { Store } from '../store/ports.js';
import type { AuditTrail } from './audit-trail.js';
import { createJobsAdmin, type JobsAdmin } from './jobs.js';

export interface ManageDeps {
  config: Config;
  store: Store;
  /** Where export files live (removing a tenant removes its jobs' files); absent where nothing is removed. */
  storage?: ObjectStorage;
  log?: Logger;
  now?: () => number;
  /** Where changes are recorded (and the audit trail read). */
  audit?: AuditTrail;
}

export interface Management {
  /** Export jobs of every tenant and client: list, show, cancel, purge. */
  jobs: JobsAdmin;
}

export function createManagement(deps: ManageDeps): Management {
  return {
    jobs: createJobsAdmin({ jobs: deps.store.jobs, storage: deps.storage, audit: deps.audit, log: deps.log }),
  };
}
