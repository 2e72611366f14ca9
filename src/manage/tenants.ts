import { objectPrefix } from '../export/runner.js';
import { FhirError, invalid, notFound } from '../fhir/errors.js';
import { isValidTenantId, TENANT_ID_RULE } from '../fhir/ids.js';
import type { TenantRecord } from '../store/ports.js';
import type { ManageDeps } from './deps.js';
import type { TenantCounts, TenantView } from './views.js';

export interface TenantRemoval {
  id: string;
  removed: true;
  resources: number;
  clients: number;
  jobs: number;
}

export interface TenantService {
  /** Creates a tenant (409 when it exists). */
  create(input: { id: unknown; name?: unknown }): Promise<TenantView>;
  list(): Promise<TenantView[]>;
  /** A tenant with its counts (404 when unknown). */
  show(id: string): Promise<TenantView>;
  /**
   * Removes a tenant with all its data, clients, jobs and their files. Refused (409) without `force`, so a
   * slip of the keyboard never removes a hospital's data.
   */
  remove(id: string, options: { force?: boolean }): Promise<TenantRemoval>;
}

export const conflict = (msg: string): FhirError => new FhirError(409, 'conflict', msg);

const view = (t: TenantRecord, counts?: TenantCounts): TenantView => ({
  id: t.id,
  name: t.name,
  created_at: t.createdAt === null ? null : new Date(t.createdAt).toISOString(),
  ...(counts ? { counts } : {}),
});

/** Checks a tenant id by the one rule (fhir/ids.ts). */
export function checkTenantId(id: unknown): string {
  if (!isValidTenantId(id)) throw invalid(`Invalid tenant id ${JSON.stringify(id)}: ${TENANT_ID_RULE}.`);
  return id;
}

export function tenantService(deps: ManageDeps): TenantService {
  const { store } = deps;
  const now = deps.now ?? Date.now;

  async function counts(id: string): Promise<TenantCounts> {
    const resources = await store.resources.countByType(id);
    const { clients, jobs } = await store.tenants.tenantCounts(id);
    return { resources, groups: resources['Group'] ?? 0, clients, jobs };
  }

  async function existing(id: string): Promise<TenantRecord> {
    const t = await store.tenants.getTenant(checkTenantId(id));
    if (!t) throw notFound(`No tenant ${id}.`);
    return t;
  }

  return {
    async create(input) {
      const id = checkTenantId(input.id);
      if (input.name !== undefined && input.name !== null && (typeof input.name !== 'string' || input.name.length > 200)) {
        throw invalid('A tenant name is a string of at most 200 characters.');
      }
      const name = typeof input.name === 'string' ? input.name : '';
      const at = now();
      if (!(await store.tenants.createTenant(id, name, at))) throw conflict(`Tenant ${id} exists already.`);
      deps.log?.info({ tenant: id }, 'tenant created');
      return view({ id, name, createdAt: at });
    },
    async list() {
      return (await store.tenants.listTenantRecords()).map((t) => view(t));
    },
    async show(id) {
      const t = await existing(id);
      return view(t, await counts(t.id));
    },
    async remove(id, options) {
      const t = await existing(id);
      if (!options.force) throw conflict(`Removing tenant ${id} removes all its data, clients, jobs and files: confirm with --force (admin API: ?force=true).`);
      const c = await counts(t.id);
      const jobIds = await store.tenants.tenantJobIds(t.id);
      if (jobIds.length > 0 && !deps.storage) throw new Error('removing a tenant with jobs needs the object storage');
      for (const jobId of jobIds) await deps.storage?.deletePrefix(objectPrefix(jobId));
      await store.tenants.removeTenant(t.id);
      deps.log?.info({ tenant: t.id, jobs: jobIds.length }, 'tenant removed');
      const resources = Object.values(c.resources).reduce((a, b) => a + b, 0);
      return { id: t.id, removed: true, resources, clients: c.clients, jobs: c.jobs };
    },
  };
}

export type { TenantCounts, TenantView } from './views.js';
