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

export interface ManageDeps {
  config: Config;
  store: Store;
  /** Where export files live (removing a tenant removes its jobs' files); absent where nothing is removed. */
  storage?: ObjectStorage;
  log?: Logger;
  now?: () => number;
}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Management {}

export function createManagement(_deps: ManageDeps): Management {
  return {};
}
