import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { ObjectStorage } from '../storage/ports.js';
import type { Store } from '../store/ports.js';
import type { AuditTrail } from './audit-trail.js';

/** What the management services are built from. */
export interface ManageDeps {
  config: Config;
  store: Store;
  /** Where export files live (removing a tenant removes its jobs' files). */
  storage?: ObjectStorage;
  log?: Logger;
  now?: () => number;
  /** Where changes are recorded (and the audit trail read). */
  audit?: AuditTrail;
}
