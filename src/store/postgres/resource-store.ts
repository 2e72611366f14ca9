import type { Pool, PoolClient } from 'pg';
import { storedJson } from '../../fhir/prepare.js';
import type { PreparedResource } from '../../fhir/resource.js';
import type {
  ReferencedScanRequest,
  ResourceStore,
  ScanRequest,
  StoredResource,
  WriteCounts,
} from '../ports.js';
import { to as copyTo } from 'pg-copy-streams';
import { binaryCopy, copiedRows } from './copy-rows.js';
import { query, Rollback, type Sql, transaction, transactionOrRollback } from './db.js';
import * as searchSql from './search-sql.js';
import * as sql from './resource-sql.js';

/**
 * Statistics refresh while a store grows: after this many written resources, then every time the count has
 * grown by ANALYZE_GROWTH. A bulk import into fresh tables otherwise runs without statistics until autovacuum
 * (when enabled) catches up, and without them the planner cannot tell the compartment/refs indexes apart.
 */
const FIRST_ANALYZE = 1_000;
const ANALYZE_GROWTH = 4;

/** Rows a scan yields per batch, at most, and about the most JSON bytes. */
const FETCH_ROWS = 1000;
const FETCH_BYTES = 4 * 1024 * 1024;

type Row = [type: string, id: string, version: number, lastUpdated: number, deleted: boolean, json: string | null, ...rest: unknown[]];

function rowToStored(row: Row): StoredResource {
  return { type: row[0], id: row[1], versionId: row[2], lastUpdated: row[3], deleted: row[4], json: row[5] };
}

/** A scanned row (from a binary COPY) as a StoredResource, its JSON decoded. */
function toStored(type: string, id: string, versionId: number, lastUpdated: number, deleted: boolean, json: Buffer | null): StoredResource {
  return { type, id, versionId, lastUpdated, deleted, json: json === null ? null : json.toString('utf8') };
}

const keyOf = (type: string, id: string): string => `${type}/${id}`;

/**
 * Splits a batch into rounds in which each (type, id) occurs once: the n-th occurrence of a key goes to round
 * n. Rounds are written in order, so a key repeated in one batch ends up as SQLite leaves it (each occurrence
 * applied in turn).
 */
function rounds(batch: PreparedResource[]): PreparedResource[][] {
  const out: PreparedResource[][] = [];
  const seen = new Map<string, number>();
  for (const item of batch) {
    const key = keyOf(item.type, item.id);
    const n = seen.get(key) ?? 0;
    seen.set(key, n + 1);
    (out[n] ??= []).push(item);
  }
  return out;
}

interface ExistingRow {
  type: string;
  id: string;
  version: number;
  deleted: boolean;
  hash: string;
}

export class PostgresResourceStore implements ResourceStore {
  /** Resources this store has created or updated since it was opened, and when to refresh statistics next. */
  private written = 0;
  private nextAnalyze = FIRST_ANALYZE;

  constructor(
    private readonly pool: Pool,
    private readonly now: () => number,
  ) {}

  async ensureTenant(tenant: string): Promise<void> {
    await query(this.pool, sql.ensureTenant(tenant));
  }

  async listTenants(): Promise<string[]> {
    return (await query<{ id: string }>(this.pool, sql.listTenants())).map((r) => r.id);
  }

  private async tick(db: Pool | PoolClient, tenant: string): Promise<number> {
    const [row] = await query<{ clock: number }>(db, sql.tick(tenant, this.now()));
    if (!row) throw new Error(`tenant clock of ${tenant} not returned`);
    return row.clock;
  }

  async snapshotTime(tenant: string): Promise<number> {
    // The upsert waits for the tenant row lock that every write transaction holds until COMMIT, so the value
    // is greater than every committed write, and every later write ticks past it.
    return this.tick(this.pool, tenant);
  }

  async writeBatch(tenant: string, batch: PreparedResource[]): Promise<WriteCounts> {
    const counts: WriteCounts = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
    if (batch.length === 0) return counts;
    await transaction(
      this.pool,
      async (client) => {
        // First statement of the transaction: takes the tenant row lock (serialising this tenant's writers).
        const at = await this.tick(client, tenant);
        for (const round of rounds(batch)) await this.writeRound(client, tenant, at, round, counts);
        return counts;
      },
      sql.BEGIN_WRITE,
    );
    this.written += counts.created + counts.updated;
    if (this.written >= this.nextAnalyze) {
      this.nextAnalyze = this.written * ANALYZE_GROWTH;
      // Only an optimisation: the batch is committed, so a failure here must not fail the write.
      await query(this.pool, sql.analyze()).catch(() => undefined);
    }
    return counts;
  }

  /** Writes items with distinct keys: a fixed number of statements whatever the round's size. */
  private async writeRound(client: PoolClient, tenant: string, at: number, items: PreparedResource[], counts: WriteCounts): Promise<void> {
    const existing = await query<ExistingRow>(
      client,
      sql.selectExisting(
        tenant,
        items.map((i) => i.type),
        items.map((i) => i.id),
      ),
    );
    const byKey = new Map(existing.map((r) => [keyOf(r.type, r.id), r]));
    const updated: sql.NewVersions = { types: [], ids: [], versions: [], hashes: [], jsons: [] };
    const created: Omit<sql.NewVersions, 'versions'> = { types: [], ids: [], hashes: [], jsons: [] };
    const written: PreparedResource[] = [];
    for (const item of items) {
      const current = byKey.get(keyOf(item.type, item.id));
      if (current && !current.deleted && current.hash === item.contentHash) {
        counts.unchanged++;
        continue;
      }
      if (current) {
        const version = current.version + 1;
        updated.types.push(item.type);
        updated.ids.push(item.id);
        updated.versions.push(version);
        updated.hashes.push(item.contentHash);
        updated.jsons.push(storedJson(item, version, at));
        counts.updated++;
      } else {
        created.types.push(item.type);
        created.ids.push(item.id);
        created.hashes.push(item.contentHash);
        created.jsons.push(storedJson(item, 1, at));
        counts.created++;
      }
      written.push(item);
    }
    if (updated.ids.length > 0) {
      await query(client, sql.copyToHistory(tenant, updated.types, updated.ids, at));
      await query(client, sql.updateCurrent(tenant, at, updated));
      await query(client, sql.clearCompartment(tenant, updated.types, updated.ids));
      await query(client, sql.clearRefs(tenant, updated.types, updated.ids));
      await query(client, searchSql.clearSearchValues(tenant, updated.types, updated.ids));
    }
    if (created.ids.length > 0) await query(client, sql.insertCurrent(tenant, at, created));

    const comp = { types: [] as string[], patients: [] as string[], ids: [] as string[], ns: [] as number[] };
    const refs = { srcTypes: [] as string[], srcIds: [] as string[], tgtTypes: [] as string[], tgtIds: [] as string[], ats: [] as (number | null)[] };
    for (const item of written) {
      for (const patient of item.patients) {
        comp.types.push(item.type);
        comp.patients.push(patient);
        comp.ids.push(item.id);
        comp.ns.push(item.patients.length);
      }
      for (const ref of item.refs) {
        refs.srcTypes.push(item.type);
        refs.srcIds.push(item.id);
        refs.tgtTypes.push(ref.type);
        refs.tgtIds.push(ref.id);
        refs.ats.push(item.recordedAt);
      }
    }
    if (comp.ids.length > 0) await query(client, sql.addCompartment(tenant, comp.types, comp.patients, comp.ids, comp.ns));
    if (refs.srcIds.length > 0) await query(client, sql.addRefs(tenant, refs.srcTypes, refs.srcIds, refs.tgtTypes, refs.tgtIds, refs.ats));
    const search = searchSql.emptySearchRows();
    for (const item of written) searchSql.pushSearchRows(search, item.type, item.id, item);
    if (search.ids.length > 0) await query(client, searchSql.addSearchValues(tenant, search));
  }

  async deleteResource(tenant: string, type: string, id: string): Promise<boolean> {
    return transactionOrRollback(this.pool, async (client) => {
      // Tenant lock first (as writeBatch does), then the resource row: one lock order, no deadlocks.
      const at = await this.tick(client, tenant);
      const [row] = await query<{ version: number; deleted: boolean }>(client, sql.selectForDelete(tenant, type, id));
      if (!row || row.deleted) throw new Rollback(false);
      await query(client, sql.copyToHistory(tenant, [type], [id], at));
      await query(client, sql.markDeleted(tenant, type, id, at));
      // A deleted resource no longer pulls in what it referenced; its compartment rows stay for `deleted` scans.
      await query(client, sql.clearRefs(tenant, [type], [id]));
      await query(client, searchSql.clearSearchValues(tenant, [type], [id]));
      return true;
    });
  }

  async read(tenant: string, type: string, id: string): Promise<StoredResource | undefined> {
    return this.readOne(sql.read(tenant, type, id));
  }

  async readAt(tenant: string, type: string, id: string, at: number): Promise<StoredResource | undefined> {
    const current = await this.read(tenant, type, id);
    if (!current || current.lastUpdated <= at) return current;
    return this.readOne(sql.readHistory(tenant, type, id, at));
  }

  private async readOne(q: Sql): Promise<StoredResource | undefined> {
    const result = await this.pool.query<Row>({ text: q.text, values: q.values, rowMode: 'array' });
    const row = result.rows[0];
    return row ? rowToStored(row) : undefined;
  }

  /**
   * Streams a query as a binary COPY (one statement, so current and history rows come from one snapshot). The
   * client goes back to the pool when the iteration ends; one abandoned or failed midway is discarded, since its
   * connection may still be sending rows.
   */
  private async *stream<T>(q: Sql, make: Parameters<typeof copiedRows<T>>[3]): AsyncGenerator<T[]> {
    const client = await this.pool.connect();
    let finished = false;
    try {
      yield* copiedRows(client.query(copyTo(binaryCopy(q))), FETCH_ROWS, FETCH_BYTES, make);
      finished = true;
    } finally {
      if (finished) client.release();
      else client.release(new Error('scan ended before its last row'));
    }
  }

  scan(req: ScanRequest): AsyncIterable<StoredResource[]> {
    return this.stream(sql.scan(req), toStored);
  }

  scanReferenced(req: ReferencedScanRequest): AsyncIterable<StoredResource[]> {
    return this.stream(sql.scanReferenced(req), toStored);
  }

  /** The rows' JSON as the bytes PostgreSQL sent (not decoded): an export writes them as they are. */
  scanJson(request: { scan: ScanRequest } | { referenced: ReferencedScanRequest }): AsyncIterable<Buffer[]> {
    if ('scan' in request && request.scan.deleted) throw new Error('scanJson reads live resources only');
    return this.stream('scan' in request ? sql.scan(request.scan) : sql.scanReferenced(request.referenced), (_type, _id, _version, _at, _deleted, json) => json ?? undefined);
  }

  async count(req: ScanRequest): Promise<number> {
    const [row] = await query<{ n: number }>(this.pool, req.patients && !req.deleted ? sql.countCompartment(req.tenant, req.type, req.patients) : sql.count(req));
    return row?.n ?? 0;
  }

  async idBoundaries(tenant: string, type: string, until: number, step: number): Promise<string[]> {
    return (await query<{ id: string }>(this.pool, sql.idBoundaries(tenant, type, until, step))).map((r) => r.id);
  }

  async countByType(tenant: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const row of await query<{ type: string; n: number }>(this.pool, sql.countByType(tenant))) out[row.type] = row.n;
    return out;
  }

  async presentIds(tenant: string, type: string, ids: string[], at: number): Promise<string[]> {
    const present: string[] = [];
    for (let i = 0; i < ids.length; i += 5000) {
      const rows = await query<{ id: string }>(this.pool, sql.presentIds(tenant, type, ids.slice(i, i + 5000), at));
      present.push(...rows.map((r) => r.id));
    }
    return present;
  }

  async beginBulkLoad(): Promise<() => Promise<void>> {
    return async () => {};
  }

  async refreshStatistics(): Promise<void> {
    await query(this.pool, sql.analyze()).catch(() => undefined);
  }

  async refreshStaleStatistics(jobPatients = 0): Promise<string[]> {
    try {
      const stale = (await query<{ relname: string }>(this.pool, sql.staleTables(sql.EXPORT_TABLES))).map((r) => r.relname);
      if (jobPatients >= 1000 && !stale.includes('job_patients')) stale.push('job_patients');
      // Names from the fixed list above, so they need no quoting.
      if (stale.length > 0) await query(this.pool, { text: `ANALYZE ${stale.join(', ')}`, values: [] });
      return stale;
    } catch {
      return [];
    }
  }
}
