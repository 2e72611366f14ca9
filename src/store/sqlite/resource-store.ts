import { statSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { startThread } from '../../threads/start-thread.js';
import { storedJson } from '../../fhir/prepare.js';
import type { PreparedResource } from '../../fhir/resource.js';
import type {
  ReferencedScanRequest,
  ResourceStore,
  ScanRequest,
  StoredResource,
  WriteCounts,
} from '../ports.js';
import { insertGrouped, ROWS_PER_INSERT, valuesList } from './grouped-insert.js';
import { insertSearchRows, removeSearchRows, type SearchIndexStatements, searchIndexStatements, searchRows } from './search-index.js';
import { writeTransaction } from './write-transaction.js';

type Row = [type: string, id: string, version: number, lastUpdated: number, deleted: number, json: string | null];
const BATCH_ROWS = 500;
/**
 * Rows per batch of `scanJson`, whose batches go to files as they are: each is a buffer held until the file has
 * it, so smaller batches hold less of the thread's memory at once (measured: 500 rows ~8 MB more resident per
 * export than 128, at the same speed).
 */
const JSON_BATCH_ROWS = 128;
/** SQLite's default: the writer checkpoints the write-ahead log when a commit leaves it above this many pages. */
const WAL_AUTOCHECKPOINT = 1000;
/** During a bulk load the log is checkpointed on a thread of its own this often (ms)… */
const BULK_CHECKPOINT_MS = 50;
/**
 * …and by the writer itself when that thread falls behind so far that the log outgrows this. The log's file is cut
 * back whenever SQLite starts it over (`journal_size_limit`, set where the store is opened), so its size is what
 * was written since the last complete checkpoint, not the largest it ever was.
 */
const BULK_WAL_LIMIT = 256 * 1024 * 1024;

function toStored(row: Row): StoredResource {
  return { type: row[0], id: row[1], versionId: row[2], lastUpdated: row[3], deleted: row[4] === 1, json: row[5] };
}

/** A resource in several member patients' compartments goes to the smallest such patient id. */
const firstCompartmentOnly = `AND (c.n = 1 OR NOT EXISTS (
            SELECT 1 FROM compartment c2 JOIN job_patients jp2 ON jp2.job_id = @job AND jp2.patient_id = c2.patient_id
            WHERE c2.tenant = c.tenant AND c2.type = c.type AND c2.id = c.id AND c2.patient_id < c.patient_id))`;

/** The columns of a row (`Row`), or the JSON text alone (`scanJson`). */
const ROW_COLUMNS = 'r.type, r.id, r.version, r.last_updated, r.deleted, r.json';
const JSON_COLUMN = 'r.json';

/** Builds the WHERE clause and parameters shared by the current-version and history queries of a scan. */
function scanSql(req: ScanRequest, table: 'resources' | 'resource_history', columns = ROW_COLUMNS): { sql: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = { tenant: req.tenant, type: req.type, until: req.until, since: req.since ?? -1 };
  const versionCond =
    table === 'resources'
      ? 'r.last_updated <= @until'
      : 'r.last_updated <= @until AND r.valid_to > @until';
  const liveCond = req.deleted ? 'r.deleted = 1' : 'r.deleted = 0';
  if (req.patients) {
    params['job'] = req.patients.jobId;
    params['from'] = req.patients.from ?? '';
    params['to'] = req.patients.to ?? '\uffff';
    // A resource shared with a member who gets full history is exported whole, whichever slice it falls in.
    const sinceCond = req.deleted
      ? 'r.last_updated > @since'
      : `(jp.full_history = 1 OR r.last_updated > @since OR (c.n > 1 AND EXISTS (
          SELECT 1 FROM compartment c3 JOIN job_patients jp3 ON jp3.job_id = @job AND jp3.patient_id = c3.patient_id AND jp3.full_history = 1
          WHERE c3.tenant = c.tenant AND c3.type = c.type AND c3.id = c.id)))`;
    return {
      params,
      // CROSS JOIN fixes the join order (patients → compartment → resources), so rows come out in index order
      // and SQLite never sorts the JSON of a whole type in a temporary B-tree.
      sql: `SELECT ${columns}
        FROM job_patients jp
        CROSS JOIN compartment c
        CROSS JOIN ${table} r
        WHERE jp.job_id = @job AND jp.patient_id >= @from AND jp.patient_id <= @to
          AND c.tenant = @tenant AND c.type = @type AND c.patient_id = jp.patient_id
          AND r.tenant = c.tenant AND r.type = c.type AND r.id = c.id
          AND ${liveCond} AND ${versionCond} AND ${sinceCond}
          ${req.patients.everyCompartment ? '' : firstCompartmentOnly}
        ORDER BY jp.patient_id, c.id`,
    };
  }
  params['after'] = req.ids?.after ?? '';
  params['to'] = req.ids?.to ?? '\uffff';
  return {
    params,
    sql: `SELECT ${columns}
      FROM ${table} r
      WHERE r.tenant = @tenant AND r.type = @type AND r.id > @after AND r.id <= @to
        AND ${liveCond} AND ${versionCond} AND r.last_updated > @since
      ORDER BY r.id`,
  };
}

function referencedSql(req: ReferencedScanRequest, table: 'resources' | 'resource_history', columns = ROW_COLUMNS): { sql: string; params: Record<string, unknown> } {
  const params: Record<string, unknown> = { tenant: req.tenant, type: req.type, until: req.until, since: req.since ?? -1 };
  const versionCond = table === 'resources' ? 'r.last_updated <= @until' : 'r.last_updated <= @until AND r.valid_to > @until';
  const sourceList = req.sourceTypes.map((t, i) => {
    params[`s${i}`] = t;
    return `@s${i}`;
  });
  const inSources = sourceList.length > 0 ? sourceList.join(', ') : "''";
  if (req.jobId) params['job'] = req.jobId;
  let range = '';
  if (req.jobId && req.patients) {
    params['pfrom'] = req.patients.from ?? '';
    params['pto'] = req.patients.to ?? '\uffff';
    range = 'AND jp.patient_id >= @pfrom AND jp.patient_id <= @pto';
  }
  const inCompartment = (typeCol: string, idCol: string): string =>
    req.jobId
      ? `EXISTS (SELECT 1 FROM compartment c JOIN job_patients jp ON jp.job_id = @job AND jp.patient_id = c.patient_id ${range}
           WHERE c.tenant = @tenant AND c.type = ${typeCol} AND c.id = ${idCol})`
      : `EXISTS (SELECT 1 FROM resources s WHERE s.tenant = @tenant AND s.type = ${typeCol} AND s.id = ${idCol} AND s.deleted = 0)`;
  let cond: string;
  if (req.type === 'Provenance') {
    const latest = req.latestOnly
      ? `AND NOT EXISTS (SELECT 1 FROM refs f2 WHERE f2.tenant = @tenant AND f2.tgt_type = f.tgt_type AND f2.tgt_id = f.tgt_id
           AND f2.src_type = 'Provenance' AND (COALESCE(f2.at, 0) > COALESCE(f.at, 0) OR (COALESCE(f2.at, 0) = COALESCE(f.at, 0) AND f2.src_id > f.src_id)))`
      : '';
    cond = `EXISTS (SELECT 1 FROM refs f WHERE f.tenant = @tenant AND f.src_type = 'Provenance' AND f.src_id = r.id
      AND f.tgt_type IN (${inSources}) AND ${inCompartment('f.tgt_type', 'f.tgt_id')} ${latest})`;
  } else {
    cond = `EXISTS (SELECT 1 FROM refs f WHERE f.tenant = @tenant AND f.tgt_type = r.type AND f.tgt_id = r.id
      AND f.src_type IN (${inSources}) AND ${inCompartment('f.src_type', 'f.src_id')})`;
  }
  return {
    params,
    sql: `SELECT ${columns} FROM ${table} r
      WHERE r.tenant = @tenant AND r.type = @type AND r.deleted = 0 AND ${versionCond} AND r.last_updated > @since AND ${cond}
      ORDER BY r.id`,
  };
}

export class SqliteResourceStore implements ResourceStore {
  private readonly statements;
  private readonly search: SearchIndexStatements;
  /** Bulk loads under way, and the thread checkpointing the log meanwhile. */
  private bulkLoads = 0;
  private checkpointer: { thread: Worker; exited: Promise<void> } | undefined;

  constructor(
    private readonly db: Database.Database,
    private readonly openReader: () => Database.Database,
    private readonly now: () => number,
    /** The database file (':memory:' has no log to checkpoint). */
    private readonly file = ':memory:',
  ) {
    this.search = searchIndexStatements(db);
    this.statements = {
      ensureTenant: db.prepare('INSERT INTO tenants (id) VALUES (?) ON CONFLICT (id) DO NOTHING'),
      listTenants: db.prepare('SELECT id FROM tenants ORDER BY id').pluck(),
      tick: db.prepare('UPDATE tenants SET clock = MAX(clock + 1, ?) WHERE id = ? RETURNING clock').pluck(),
      current: db.prepare('SELECT version, last_updated, deleted, hash, json FROM resources WHERE tenant = ? AND type = ? AND id = ?'),
      toHistory: db.prepare(
        'INSERT OR REPLACE INTO resource_history (tenant, type, id, version, last_updated, deleted, json, valid_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      insert: db.prepare('INSERT INTO resources (tenant, type, id, version, last_updated, deleted, hash, json) VALUES (?, ?, ?, ?, ?, 0, ?, ?)'),
      update: db.prepare('UPDATE resources SET version = ?, last_updated = ?, deleted = ?, hash = ?, json = ? WHERE tenant = ? AND type = ? AND id = ?'),
      clearCompartment: db.prepare('DELETE FROM compartment INDEXED BY compartment_by_resource WHERE tenant = ? AND type = ? AND id = ?'),
      addCompartment: db.prepare('INSERT OR IGNORE INTO compartment (tenant, type, patient_id, id, n) VALUES (?, ?, ?, ?, ?)'),
      clearRefs: db.prepare('DELETE FROM refs WHERE tenant = ? AND src_type = ? AND src_id = ?'),
      addRef: db.prepare('INSERT OR IGNORE INTO refs (tenant, src_type, src_id, tgt_type, tgt_id, at) VALUES (?, ?, ?, ?, ?, ?)'),
      // A new row gets version 1; a key already present is left alone here and handled row by row.
      insertNew: db.prepare(
        `INSERT INTO resources (tenant, type, id, version, last_updated, deleted, hash, json)
         VALUES ${valuesList(ROWS_PER_INSERT, '(?, ?, ?, 1, ?, 0, ?, ?)')} ON CONFLICT (tenant, type, id) DO NOTHING`,
      ),
      addCompartments: db.prepare(
        `INSERT OR IGNORE INTO compartment (tenant, type, patient_id, id, n) VALUES ${valuesList(ROWS_PER_INSERT, '(?, ?, ?, ?, ?)')}`,
      ),
      addRefs: db.prepare(
        `INSERT OR IGNORE INTO refs (tenant, src_type, src_id, tgt_type, tgt_id, at) VALUES ${valuesList(ROWS_PER_INSERT, '(?, ?, ?, ?, ?, ?)')}`,
      ),
      read: db.prepare('SELECT type, id, version, last_updated, deleted, json FROM resources WHERE tenant = ? AND type = ? AND id = ?').raw(),
      readHistory: db
        .prepare(
          `SELECT type, id, version, last_updated, deleted, json FROM resource_history
           WHERE tenant = ? AND type = ? AND id = ? AND last_updated <= ? AND valid_to > ?`,
        )
        .raw(),
      historyAt: db.prepare('SELECT 1 FROM resource_history WHERE tenant = ? AND type = ? AND valid_to > ? LIMIT 1').pluck(),
      countByType: db.prepare('SELECT type, count(*) AS n FROM resources WHERE tenant = ? AND deleted = 0 GROUP BY type'),
    };
  }

  async ensureTenant(tenant: string): Promise<void> {
    await writeTransaction(this.db, () => this.statements.ensureTenant.run(tenant));
  }

  async listTenants(): Promise<string[]> {
    return this.statements.listTenants.all() as string[];
  }

  private tick(tenant: string): number {
    this.statements.ensureTenant.run(tenant);
    return this.statements.tick.get(this.now(), tenant) as number;
  }

  async snapshotTime(tenant: string): Promise<number> {
    // The writer connection serialises with every write transaction, so the tick orders after all committed writes.
    return writeTransaction(this.db, () => this.tick(tenant));
  }

  async beginBulkLoad(): Promise<() => Promise<void>> {
    if (this.file === ':memory:' || this.file === '') return async () => {};
    if (this.bulkLoads++ === 0) {
      this.db.pragma('wal_autocheckpoint = 0');
      const thread = startThread(new URL('./checkpoint-thread.js', import.meta.url), { workerData: { file: this.file, intervalMs: BULK_CHECKPOINT_MS } });
      // A failing checkpoint thread costs only speed: the writer's own checkpoints take over.
      thread.on('error', () => {
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT}`);
      });
      // Never what keeps the process alive: a load that is not ended leaves only pages for the next checkpoint.
      thread.unref();
      this.checkpointer = { thread, exited: new Promise<void>((resolve) => thread.once('exit', () => resolve())) };
    }
    let ended = false;
    return async () => {
      if (ended) return;
      ended = true;
      if (--this.bulkLoads > 0) return;
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT}`);
      const checkpointer = this.checkpointer;
      this.checkpointer = undefined;
      if (!checkpointer) return;
      // Waited for now: it keeps the process alive until it has stopped.
      checkpointer.thread.ref();
      checkpointer.thread.postMessage('stop');
      await checkpointer.exited;
    };
  }

  /** During a bulk load: checkpoints here when the checkpoint thread has fallen far behind. */
  private boundLog(): void {
    if (this.bulkLoads === 0) return;
    let size = 0;
    try {
      size = statSync(`${this.file}-wal`).size;
    } catch {
      return;
    }
    if (size > BULK_WAL_LIMIT) this.db.pragma('wal_checkpoint(PASSIVE)');
  }

  async writeBatch(tenant: string, batch: PreparedResource[]): Promise<WriteCounts> {
    this.boundLog();
    const run = (): WriteCounts => {
      const counts: WriteCounts = { created: 0, updated: 0, unchanged: 0, deleted: 0 };
      if (batch.length === 0) return counts;
      const at = this.tick(tenant);
      const keys = new Set<string>();
      for (const item of batch) keys.add(`${item.type}/${item.id}`);
      // Repeated keys are applied in order, one after the other; the grouped path below assumes distinct keys.
      if (keys.size < batch.length) {
        for (const item of batch) this.writeOne(tenant, item, at, counts);
        return counts;
      }
      const compartments: unknown[] = [];
      const refs: unknown[] = [];
      const tokens: unknown[] = [];
      const dates: unknown[] = [];
      const sideRows = (item: PreparedResource): void => {
        const n = item.patients.length;
        for (const patient of item.patients) compartments.push(tenant, item.type, patient, item.id, n);
        for (const ref of item.refs) refs.push(tenant, item.type, item.id, ref.type, ref.id, item.recordedAt);
        searchRows(tenant, item, tokens, dates);
      };
      const params: unknown[] = [];
      for (let start = 0; start < batch.length; start += ROWS_PER_INSERT) {
        const group = batch.slice(start, start + ROWS_PER_INSERT);
        if (group.length < ROWS_PER_INSERT) {
          for (const item of group) this.writeOne(tenant, item, at, counts, sideRows);
          continue;
        }
        params.length = 0;
        for (const item of group) params.push(tenant, item.type, item.id, at, item.contentHash, storedJson(item, 1, at));
        const inserted = this.statements.insertNew.run(params).changes;
        if (inserted === group.length) {
          counts.created += inserted;
          for (const item of group) sideRows(item);
          continue;
        }
        // Some keys existed: the rows stamped `at` are the ones just inserted (every earlier write has an older stamp).
        for (const item of group) {
          const row = this.statements.current.get(tenant, item.type, item.id) as { last_updated: number } | undefined;
          if (row?.last_updated === at) {
            counts.created++;
            sideRows(item);
          } else {
            this.writeOne(tenant, item, at, counts, sideRows);
          }
        }
      }
      insertGrouped(this.statements.addCompartments, this.statements.addCompartment, compartments, 5);
      insertGrouped(this.statements.addRefs, this.statements.addRef, refs, 6);
      insertSearchRows(this.search, tokens, dates);
      return counts;
    };
    return writeTransaction(this.db, run);
  }

  /**
   * Writes one resource inside the caller's transaction: unchanged, a new version (the current one moved to
   * history), or created. Its compartment and reference rows are written here, or handed to `sideRows`.
   */
  private writeOne(
    tenant: string,
    item: PreparedResource,
    at: number,
    counts: WriteCounts,
    sideRows?: (item: PreparedResource) => void,
  ): void {
    const s = this.statements;
    const existing = s.current.get(tenant, item.type, item.id) as
      | { version: number; last_updated: number; deleted: number; hash: string; json: string | null }
      | undefined;
    if (existing && existing.deleted === 0 && existing.hash === item.contentHash) {
      counts.unchanged++;
      return;
    }
    if (existing) {
      const version = existing.version + 1;
      s.toHistory.run(tenant, item.type, item.id, existing.version, existing.last_updated, existing.deleted, existing.json, at);
      s.update.run(version, at, 0, item.contentHash, storedJson(item, version, at), tenant, item.type, item.id);
      s.clearCompartment.run(tenant, item.type, item.id);
      s.clearRefs.run(tenant, item.type, item.id);
      removeSearchRows(this.search, tenant, item.type, existing.json);
      counts.updated++;
    } else {
      s.insert.run(tenant, item.type, item.id, 1, at, item.contentHash, storedJson(item, 1, at));
      counts.created++;
    }
    if (sideRows) {
      sideRows(item);
      return;
    }
    const n = item.patients.length;
    for (const patient of item.patients) s.addCompartment.run(tenant, item.type, patient, item.id, n);
    for (const ref of item.refs) s.addRef.run(tenant, item.type, item.id, ref.type, ref.id, item.recordedAt);
    const tokens: unknown[] = [];
    const dates: unknown[] = [];
    searchRows(tenant, item, tokens, dates);
    insertSearchRows(this.search, tokens, dates);
  }

  async deleteResource(tenant: string, type: string, id: string): Promise<boolean> {
    const s = this.statements;
    return writeTransaction(this.db, (): boolean => {
      const existing = s.current.get(tenant, type, id) as
        | { version: number; last_updated: number; deleted: number; hash: string; json: string | null }
        | undefined;
      if (!existing || existing.deleted === 1) return false;
      const at = this.tick(tenant);
      s.toHistory.run(tenant, type, id, existing.version, existing.last_updated, 0, existing.json, at);
      s.update.run(existing.version + 1, at, 1, '', null, tenant, type, id);
      // A deleted resource no longer pulls in what it referenced; its compartment rows stay for `deleted` scans.
      s.clearRefs.run(tenant, type, id);
      removeSearchRows(this.search, tenant, type, existing.json);
      return true;
    });
  }

  async read(tenant: string, type: string, id: string): Promise<StoredResource | undefined> {
    const row = this.statements.read.get(tenant, type, id) as Row | undefined;
    return row ? toStored(row) : undefined;
  }

  async readAt(tenant: string, type: string, id: string, at: number): Promise<StoredResource | undefined> {
    const current = await this.read(tenant, type, id);
    if (!current || current.lastUpdated <= at) return current;
    const row = this.statements.readHistory.get(tenant, type, id, at, at) as Row | undefined;
    return row ? toStored(row) : undefined;
  }

  /**
   * Streams queries on a read connection of their own, so a long scan never blocks writes or other scans; each
   * row becomes `toItem(row)`, in batches.
   */
  private async *stream<R, T>(
    queries: { sql: string; params: Record<string, unknown> }[],
    shape: 'raw' | 'pluck',
    toItem: (row: R) => T,
    batchRows = BATCH_ROWS,
  ): AsyncIterable<T[]> {
    const reader = this.openReader();
    try {
      // One read transaction for all queries of the scan, so current and history rows come from one snapshot.
      reader.prepare('BEGIN').run();
      for (const q of queries) {
        const statement = reader.prepare(q.sql);
        const iterator = (shape === 'raw' ? statement.raw() : statement.pluck()).iterate(q.params) as IterableIterator<R>;
        let batch: T[] = [];
        for (const row of iterator) {
          batch.push(toItem(row));
          if (batch.length >= batchRows) {
            yield batch;
            batch = [];
          }
        }
        if (batch.length > 0) yield batch;
      }
      reader.prepare('COMMIT').run();
    } finally {
      reader.close();
    }
  }

  /** Whether any superseded version of the type was current at `until` (else the history query is skipped). */
  private hasHistoryAt(tenant: string, type: string, until: number): boolean {
    return this.statements.historyAt.get(tenant, type, until) !== undefined;
  }

  /** The queries of a scan: current versions, then (when any superseded version was current then) history. */
  private scanQueries(request: { scan: ScanRequest } | { referenced: ReferencedScanRequest }, columns: string): { sql: string; params: Record<string, unknown> }[] {
    const req = 'scan' in request ? request.scan : request.referenced;
    const build = (table: 'resources' | 'resource_history') =>
      'scan' in request ? scanSql(request.scan, table, columns) : referencedSql(request.referenced, table, columns);
    const queries = [build('resources')];
    if (this.hasHistoryAt(req.tenant, req.type, req.until)) queries.push(build('resource_history'));
    return queries;
  }

  scan(req: ScanRequest): AsyncIterable<StoredResource[]> {
    return this.stream(this.scanQueries({ scan: req }, ROW_COLUMNS), 'raw', toStored);
  }

  scanReferenced(req: ReferencedScanRequest): AsyncIterable<StoredResource[]> {
    return this.stream(this.scanQueries({ referenced: req }, ROW_COLUMNS), 'raw', toStored);
  }

  scanJson(request: { scan: ScanRequest } | { referenced: ReferencedScanRequest }): AsyncIterable<string[]> {
    if ('scan' in request && request.scan.deleted) throw new Error('scanJson reads live resources only');
    // One column: no row object, no type and id strings, no numbers made per resource.
    return this.stream(this.scanQueries(request, JSON_COLUMN), 'pluck', (json: string) => json, JSON_BATCH_ROWS);
  }

  /**
   * Runs a planning query on a read connection of its own (small page cache), so counting and slicing a large
   * export never fills the writer's cache, which the process keeps for as long as it runs.
   */
  private onReader<T>(query: (reader: Database.Database) => T): T {
    const reader = this.openReader();
    try {
      return query(reader);
    } finally {
      reader.close();
    }
  }

  async count(req: ScanRequest): Promise<number> {
    if (req.patients && !req.deleted) {
      const patients = req.patients;
      // An upper bound from the compartment index alone (no resource rows read): cheap enough to plan with.
      return this.onReader(
        (reader) =>
          reader
            .prepare(
              `SELECT count(*) FROM job_patients jp CROSS JOIN compartment c
               WHERE jp.job_id = @job AND jp.patient_id >= @from AND jp.patient_id <= @to
                 AND c.tenant = @tenant AND c.type = @type AND c.patient_id = jp.patient_id`,
            )
            .pluck()
            .get({ job: patients.jobId, from: patients.from ?? '', to: patients.to ?? '\uffff', tenant: req.tenant, type: req.type }) as number,
      );
    }
    return this.onReader((reader) => {
      let total = 0;
      for (const table of ['resources', 'resource_history'] as const) {
        const { sql, params } = scanSql(req, table);
        total += reader.prepare(`SELECT count(*) FROM (${sql})`).pluck().get(params) as number;
      }
      return total;
    });
  }

  async idBoundaries(tenant: string, type: string, until: number, step: number): Promise<string[]> {
    const live = 'tenant = ? AND type = ? AND deleted = 0 AND last_updated <= ?';
    return this.onReader((reader) => {
      if (step <= 16) {
        // Every id live at the snapshot: current versions written by then, and versions since replaced that were
        // current then (a resource updated after the snapshot is still exported, from history).
        const ids = reader
          .prepare(`SELECT id FROM resources WHERE ${live} UNION SELECT id FROM resource_history WHERE ${live} AND valid_to > ? ORDER BY id`)
          .pluck()
          .all(tenant, type, until, tenant, type, until, until) as string[];
        return step === 1 ? ids : ids.filter((_, i) => (i + 1) % step === 0);
      }
      // Each boundary is the step-th live id after the one before: SQLite steps its index cursor over the rows
      // between (checking each row as the scan does), handing over one id per boundary rather than numbering all.
      const next = reader.prepare(`SELECT id FROM resources WHERE ${live} AND id > ? ORDER BY id LIMIT 1 OFFSET ?`).pluck();
      const bounds: string[] = [];
      for (let after = ''; ; ) {
        const id = next.get(tenant, type, until, after, step - 1) as string | undefined;
        if (id === undefined) return bounds;
        bounds.push(id);
        after = id;
      }
    });
  }

  async countByType(tenant: string): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    for (const row of this.statements.countByType.all(tenant) as { type: string; n: number }[]) out[row.type] = row.n;
    return out;
  }

  async presentIds(tenant: string, type: string, ids: string[], at: number): Promise<string[]> {
    const present: string[] = [];
    for (const id of ids) {
      const r = await this.readAt(tenant, type, id, at);
      if (r && !r.deleted) present.push(id);
    }
    return present;
  }

  async refreshStaleStatistics(): Promise<string[]> {
    return [];
  }

  async refreshStatistics(): Promise<void> {
    try {
      this.db.pragma('optimize');
    } catch {
      // Only an optimisation.
    }
  }
}
