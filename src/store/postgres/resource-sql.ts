import type { ReferencedScanRequest, ScanRequest } from '../ports.js';
import { Params, type Sql } from './db.js';

/**
 * The SQL of the PostgreSQL resource store. Batch statements take parallel arrays and `unnest` them, so a
 * write batch costs a fixed number of round trips whatever its size.
 */

/** The columns every read/scan returns, in the order `toStored` expects. */
const COLUMNS = 'r.type, r.id, r.version, r.last_updated, r.deleted, r.json';

/**
 * Starts a write transaction. Every statement of a write joins a batch's keys (an `unnest` of up to a few
 * thousand rows) to a tenant's tables by primary key. Left alone, the planner hashes the whole tenant's rows
 * for each of them (O(tenant size) per statement, tens of ms at 100k resources); with hash and merge joins off
 * for this transaction only, each key is an index probe (O(batch size)).
 */
export const BEGIN_WRITE = 'BEGIN; SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off';

/** Refreshes planner statistics of the resource tables (skipped with a warning when not the owner). */
export const analyze = (): Sql => ({ text: 'ANALYZE resources, resource_history, compartment, refs, search_values', values: [] });

/** Tables an export reads (the search-value index: dynamic group members). */
export const EXPORT_TABLES = ['resources', 'resource_history', 'compartment', 'refs', 'search_values', 'job_patients'];

/**
 * Of `tables` (in the current schema), those never analyzed or changed since their last ANALYZE by more than a
 * tenth of their rows (and at least 1,000 rows): their statistics no longer describe them. The counts lag
 * commits by up to a second (the statistics collector).
 */
export const staleTables = (tables: string[]): Sql => ({
  text: `SELECT relname FROM pg_stat_user_tables
    WHERE schemaname = current_schema() AND relname = ANY($1::text[])
      AND n_mod_since_analyze > GREATEST(1000, n_live_tup / 10)
    ORDER BY relname`,
  values: [tables],
});

export const ensureTenant = (tenant: string): Sql => ({
  text: 'INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING',
  values: [tenant],
});

export const listTenants = (): Sql => ({ text: 'SELECT id FROM tenants ORDER BY id', values: [] });

/**
 * Advances the tenant clock to max(clock + 1, now) and returns it, creating the tenant when missing (a new
 * tenant's clock is 0). Inside a write transaction the row lock it takes serialises that tenant's writers and
 * snapshots until COMMIT.
 */
export const tick = (tenant: string, now: number): Sql => ({
  text: `INSERT INTO tenants AS t (id, clock) VALUES ($1, GREATEST(1, $2::bigint))
    ON CONFLICT (id) DO UPDATE SET clock = GREATEST(t.clock + 1, $2::bigint)
    RETURNING clock`,
  values: [tenant, now],
});

/** Current rows (version, tombstone flag, content hash) of a batch's keys. */
export const selectExisting = (tenant: string, types: string[], ids: string[]): Sql => ({
  text: `SELECT r.type, r.id, r.version, r.deleted, r.hash
    FROM unnest($2::text[], $3::text[]) AS u(type, id)
    JOIN resources r ON r.tenant = $1 AND r.type = u.type AND r.id = u.id`,
  values: [tenant, types, ids],
});

/** Copies the current rows of these keys to history, valid until `validTo`. */
export const copyToHistory = (tenant: string, types: string[], ids: string[], validTo: number): Sql => ({
  text: `INSERT INTO resource_history (tenant, type, id, version, last_updated, deleted, json, valid_to)
    SELECT r.tenant, r.type, r.id, r.version, r.last_updated, r.deleted, r.json, $4::bigint
    FROM unnest($2::text[], $3::text[]) AS u(type, id)
    JOIN resources r ON r.tenant = $1 AND r.type = u.type AND r.id = u.id
    ON CONFLICT (tenant, type, id, version) DO UPDATE
      SET last_updated = EXCLUDED.last_updated, deleted = EXCLUDED.deleted, json = EXCLUDED.json, valid_to = EXCLUDED.valid_to`,
  values: [tenant, types, ids, validTo],
});

export interface NewVersions {
  types: string[];
  ids: string[];
  versions: number[];
  hashes: string[];
  jsons: string[];
}

export const updateCurrent = (tenant: string, at: number, v: NewVersions): Sql => ({
  text: `UPDATE resources r
    SET version = u.version, last_updated = $2::bigint, deleted = false, hash = u.hash, json = u.json
    FROM unnest($3::text[], $4::text[], $5::int[], $6::text[], $7::text[]) AS u(type, id, version, hash, json)
    WHERE r.tenant = $1 AND r.type = u.type AND r.id = u.id`,
  values: [tenant, at, v.types, v.ids, v.versions, v.hashes, v.jsons],
});

export const insertCurrent = (tenant: string, at: number, v: Omit<NewVersions, 'versions'>): Sql => ({
  text: `INSERT INTO resources (tenant, type, id, version, last_updated, deleted, hash, json)
    SELECT $1, u.type, u.id, 1, $2::bigint, false, u.hash, u.json
    FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS u(type, id, hash, json)`,
  values: [tenant, at, v.types, v.ids, v.hashes, v.jsons],
});

export const clearCompartment = (tenant: string, types: string[], ids: string[]): Sql => ({
  text: `DELETE FROM compartment c USING unnest($2::text[], $3::text[]) AS u(type, id)
    WHERE c.tenant = $1 AND c.type = u.type AND c.id = u.id`,
  values: [tenant, types, ids],
});

export const clearRefs = (tenant: string, types: string[], ids: string[]): Sql => ({
  text: `DELETE FROM refs f USING unnest($2::text[], $3::text[]) AS u(type, id)
    WHERE f.tenant = $1 AND f.src_type = u.type AND f.src_id = u.id`,
  values: [tenant, types, ids],
});

export const addCompartment = (tenant: string, types: string[], patients: string[], ids: string[], ns: number[]): Sql => ({
  text: `INSERT INTO compartment (tenant, type, patient_id, id, n)
    SELECT $1, u.type, u.patient_id, u.id, u.n FROM unnest($2::text[], $3::text[], $4::text[], $5::int[]) AS u(type, patient_id, id, n)
    ON CONFLICT DO NOTHING`,
  values: [tenant, types, patients, ids, ns],
});

export const addRefs = (
  tenant: string,
  srcTypes: string[],
  srcIds: string[],
  tgtTypes: string[],
  tgtIds: string[],
  ats: (number | null)[],
): Sql => ({
  text: `INSERT INTO refs (tenant, src_type, src_id, tgt_type, tgt_id, at)
    SELECT $1, u.src_type, u.src_id, u.tgt_type, u.tgt_id, u.at
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[]) AS u(src_type, src_id, tgt_type, tgt_id, at)
    ON CONFLICT DO NOTHING`,
  values: [tenant, srcTypes, srcIds, tgtTypes, tgtIds, ats],
});

/** The current row of one resource (locked, for deleteResource). */
export const selectForDelete = (tenant: string, type: string, id: string): Sql => ({
  text: 'SELECT version, deleted FROM resources WHERE tenant = $1 AND type = $2 AND id = $3 FOR UPDATE',
  values: [tenant, type, id],
});

export const markDeleted = (tenant: string, type: string, id: string, at: number): Sql => ({
  text: `UPDATE resources SET version = version + 1, last_updated = $4::bigint, deleted = true, hash = '', json = NULL
    WHERE tenant = $1 AND type = $2 AND id = $3`,
  values: [tenant, type, id, at],
});

export const read = (tenant: string, type: string, id: string): Sql => ({
  text: `SELECT ${COLUMNS} FROM resources r WHERE r.tenant = $1 AND r.type = $2 AND r.id = $3`,
  values: [tenant, type, id],
});

export const readHistory = (tenant: string, type: string, id: string, at: number): Sql => ({
  text: `SELECT ${COLUMNS} FROM resource_history r
    WHERE r.tenant = $1 AND r.type = $2 AND r.id = $3 AND r.last_updated <= $4::bigint AND r.valid_to > $4::bigint`,
  values: [tenant, type, id, at],
});

export const countByType = (tenant: string): Sql => ({
  text: 'SELECT type, count(*) AS n FROM resources WHERE tenant = $1 AND deleted = false GROUP BY type',
  values: [tenant],
});

export const idBoundaries = (tenant: string, type: string, until: number, step: number): Sql => ({
  text: `SELECT id FROM (
      SELECT id, row_number() OVER (ORDER BY id) AS n FROM (
        SELECT id FROM resources WHERE tenant = $1 AND type = $2 AND deleted = false AND last_updated <= $3::bigint
        UNION
        SELECT id FROM resource_history WHERE tenant = $1 AND type = $2 AND deleted = false AND last_updated <= $3::bigint AND valid_to > $3::bigint
      ) live
    ) s WHERE n % $4::bigint = 0 ORDER BY id`,
  values: [tenant, type, until, step],
});

/** Of `ids`, those live at `at`: a current version written by then, or a history version valid then. */
export const presentIds = (tenant: string, type: string, ids: string[], at: number): Sql => ({
  text: `SELECT u.id FROM unnest($3::text[]) AS u(id)
    WHERE EXISTS (SELECT 1 FROM resources r WHERE r.tenant = $1 AND r.type = $2 AND r.id = u.id AND r.deleted = false AND r.last_updated <= $4::bigint)
       OR EXISTS (SELECT 1 FROM resource_history r WHERE r.tenant = $1 AND r.type = $2 AND r.id = u.id AND r.deleted = false
                  AND r.last_updated <= $4::bigint AND r.valid_to > $4::bigint)`,
  values: [tenant, type, ids, at],
});

type Table = 'resources' | 'resource_history';

/** Versions current at `until`: current rows written by then, or history rows valid at that instant. */
function versionCond(table: Table, until: string): string {
  return table === 'resources' ? `r.last_updated <= ${until}` : `r.last_updated <= ${until} AND r.valid_to > ${until}`;
}

/**
 * One branch (current or history table) of a scan. Patient-compartment scans add `sort_patient` so the union
 * can be ordered by patient, then id.
 */
function scanBranch(req: ScanRequest, table: Table, p: Record<string, string | undefined>): string {
  const live = req.deleted ? 'r.deleted = true' : 'r.deleted = false';
  if (req.patients) {
    // A resource shared with a member who gets full history is exported whole, whichever slice it falls in.
    const since =
      p['since'] === undefined
        ? ''
        : req.deleted
          ? `AND r.last_updated > ${p['since']}`
          : `AND (jp.full_history OR r.last_updated > ${p['since']} OR (c.n > 1 AND EXISTS (
              SELECT 1 FROM compartment c3 JOIN job_patients jp3 ON jp3.job_id = ${p['job']} AND jp3.patient_id = c3.patient_id AND jp3.full_history
              WHERE c3.tenant = c.tenant AND c3.type = c.type AND c3.id = c.id)))`;
    const from = p['from'] === undefined ? '' : `AND jp.patient_id >= ${p['from']}`;
    const to = p['to'] === undefined ? '' : `AND jp.patient_id <= ${p['to']}`;
    return `SELECT ${COLUMNS}, jp.patient_id AS sort_patient
      FROM job_patients jp
      JOIN compartment c ON c.tenant = ${p['tenant']} AND c.type = ${p['type']} AND c.patient_id = jp.patient_id
      JOIN ${table} r ON r.tenant = c.tenant AND r.type = c.type AND r.id = c.id
      WHERE jp.job_id = ${p['job']} ${from} ${to}
        AND ${live} AND ${versionCond(table, p['until'] as string)} ${since}
        ${
          req.patients.everyCompartment
            ? ''
            : `AND (c.n = 1 OR NOT EXISTS (
          SELECT 1 FROM compartment c2 JOIN job_patients jp2 ON jp2.job_id = ${p['job']} AND jp2.patient_id = c2.patient_id
          WHERE c2.tenant = c.tenant AND c2.type = c.type AND c2.id = c.id AND c2.patient_id < c.patient_id))`
        }`;
  }
  const since = p['since'] === undefined ? '' : `AND r.last_updated > ${p['since']}`;
  const after = p['after'] === undefined ? '' : `AND r.id > ${p['after']}`;
  const to = p['to'] === undefined ? '' : `AND r.id <= ${p['to']}`;
  return `SELECT ${COLUMNS} FROM ${table} r
    WHERE r.tenant = ${p['tenant']} AND r.type = ${p['type']} ${after} ${to}
      AND ${live} AND ${versionCond(table, p['until'] as string)} ${since}`;
}

/** Binds a scan's parameters once; both branches share the placeholders. */
function scanParams(req: ScanRequest): { params: Params; p: Record<string, string | undefined> } {
  const params = new Params();
  const p: Record<string, string | undefined> = {
    tenant: params.add(req.tenant, 'text'),
    type: params.add(req.type, 'text'),
    until: params.add(req.until, 'bigint'),
    since: req.since === undefined ? undefined : params.add(req.since, 'bigint'),
  };
  if (req.patients) {
    p['job'] = params.add(req.patients.jobId, 'text');
    p['from'] = req.patients.from === undefined ? undefined : params.add(req.patients.from, 'text');
    p['to'] = req.patients.to === undefined ? undefined : params.add(req.patients.to, 'text');
  } else {
    p['after'] = req.ids?.after === undefined ? undefined : params.add(req.ids.after, 'text');
    p['to'] = req.ids?.to === undefined ? undefined : params.add(req.ids.to, 'text');
  }
  return { params, p };
}

/**
 * A scan: the versions current at `until` from both tables, as one query so it streams through one cursor
 * in id order (patient, then id, for compartment scans).
 */
export function scan(req: ScanRequest): Sql {
  const { params, p } = scanParams(req);
  const order = req.patients ? 'sort_patient, id' : 'id';
  return {
    text: `${scanBranch(req, 'resources', p)}
      UNION ALL
      ${scanBranch(req, 'resource_history', p)}
      ORDER BY ${order}`,
    values: params.values,
  };
}

/**
 * An upper bound of a live compartment scan's rows from the compartment index alone (no resource rows read):
 * every row such a scan returns has a compartment entry of a member patient in the range.
 */
export function countCompartment(tenant: string, type: string, patients: { jobId: string; from?: string; to?: string }): Sql {
  const p = new Params();
  const from = patients.from === undefined ? '' : `AND jp.patient_id >= ${p.add(patients.from, 'text')}`;
  const to = patients.to === undefined ? '' : `AND jp.patient_id <= ${p.add(patients.to, 'text')}`;
  return {
    text: `SELECT count(*) AS n FROM job_patients jp
      JOIN compartment c ON c.tenant = ${p.add(tenant, 'text')} AND c.type = ${p.add(type, 'text')} AND c.patient_id = jp.patient_id
      WHERE jp.job_id = ${p.add(patients.jobId, 'text')} ${from} ${to}`,
    values: p.values,
  };
}

/** How many rows `scan` returns (current and history versions at `until`). */
export function count(req: ScanRequest): Sql {
  const { params, p } = scanParams(req);
  return {
    text: `SELECT count(*) AS n FROM (
      ${scanBranch(req, 'resources', p)}
      UNION ALL
      ${scanBranch(req, 'resource_history', p)}) s`,
    values: params.values,
  };
}

function referencedBranch(req: ReferencedScanRequest, table: Table, p: Record<string, string | undefined>): string {
  const tenant = p['tenant'] as string;
  const sources = p['sources'] as string;
  const since = p['since'] === undefined ? '' : `AND r.last_updated > ${p['since']}`;
  const range =
    (p['pfrom'] === undefined ? '' : `AND jp.patient_id >= ${p['pfrom']} `) + (p['pto'] === undefined ? '' : `AND jp.patient_id <= ${p['pto']}`);
  const inCompartment = (typeCol: string, idCol: string): string =>
    p['job'] !== undefined
      ? `EXISTS (SELECT 1 FROM compartment c JOIN job_patients jp ON jp.job_id = ${p['job']} AND jp.patient_id = c.patient_id ${range}
           WHERE c.tenant = ${tenant} AND c.type = ${typeCol} AND c.id = ${idCol})`
      : `EXISTS (SELECT 1 FROM resources s WHERE s.tenant = ${tenant} AND s.type = ${typeCol} AND s.id = ${idCol} AND s.deleted = false)`;
  let cond: string;
  if (req.type === 'Provenance') {
    const latest = req.latestOnly
      ? `AND NOT EXISTS (SELECT 1 FROM refs f2 WHERE f2.tenant = ${tenant} AND f2.tgt_type = f.tgt_type AND f2.tgt_id = f.tgt_id
           AND f2.src_type = 'Provenance' AND (COALESCE(f2.at, 0) > COALESCE(f.at, 0) OR (COALESCE(f2.at, 0) = COALESCE(f.at, 0) AND f2.src_id > f.src_id)))`
      : '';
    cond = `EXISTS (SELECT 1 FROM refs f WHERE f.tenant = ${tenant} AND f.src_type = 'Provenance' AND f.src_id = r.id
      AND f.tgt_type = ANY(${sources}) AND ${inCompartment('f.tgt_type', 'f.tgt_id')} ${latest})`;
  } else {
    cond = `EXISTS (SELECT 1 FROM refs f WHERE f.tenant = ${tenant} AND f.tgt_type = r.type AND f.tgt_id = r.id
      AND f.src_type = ANY(${sources}) AND ${inCompartment('f.src_type', 'f.src_id')})`;
  }
  return `SELECT ${COLUMNS} FROM ${table} r
    WHERE r.tenant = ${tenant} AND r.type = ${p['type']} AND r.deleted = false
      AND ${versionCond(table, p['until'] as string)} ${since} AND ${cond}`;
}

/** Referenced resources (or Provenance) of the scoped sources, current at `until`, in id order. */
export function scanReferenced(req: ReferencedScanRequest): Sql {
  const params = new Params();
  const p: Record<string, string | undefined> = {
    tenant: params.add(req.tenant, 'text'),
    type: params.add(req.type, 'text'),
    until: params.add(req.until, 'bigint'),
    since: req.since === undefined ? undefined : params.add(req.since, 'bigint'),
    sources: params.add(req.sourceTypes, 'text[]'),
    job: req.jobId ? params.add(req.jobId, 'text') : undefined,
    pfrom: req.jobId && req.patients?.from !== undefined ? params.add(req.patients.from, 'text') : undefined,
    pto: req.jobId && req.patients?.to !== undefined ? params.add(req.patients.to, 'text') : undefined,
  };
  return {
    text: `${referencedBranch(req, 'resources', p)}
      UNION ALL
      ${referencedBranch(req, 'resource_history', p)}
      ORDER BY id`,
    values: params.values,
  };
}
