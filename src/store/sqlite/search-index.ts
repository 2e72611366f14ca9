import type Database from 'better-sqlite3';
import { storedSearchValues } from '../../fhir/prepare.js';
import type { PreparedResource } from '../../fhir/resource.js';
import { INDEXED_PARAMS, SEARCH_VALUES_VERSION } from '../../fhir/search-values.js';
import { insertGrouped, ROWS_PER_INSERT, valuesList } from './grouped-insert.js';

/** Resources read per step (their JSON is parsed): memory stays flat however large the store. */
const STEP = 1000;

/** Parameters of a `search_tokens` row: tenant, type, param, val, patient_id, id, sys ('' for none). */
const TOKEN_WIDTH = 7;
/** Parameters of a `search_dates` row: tenant, type, param, lo, hi, patient_id, id. */
const DATE_WIDTH = 7;

/**
 * Appends the search-index rows of a resource: one per value and compartment patient, a token, string or reference
 * value to `tokens`, a date range to `dates` (flat parameter lists, `TOKEN_WIDTH` and `DATE_WIDTH` a row).
 */
export function searchRows(tenant: string, item: Pick<PreparedResource, 'type' | 'id' | 'patients' | 'searchValues'>, tokens: unknown[], dates: unknown[]): void {
  for (const v of item.searchValues ?? []) {
    for (const patient of item.patients) {
      if (v.val !== null) tokens.push(tenant, item.type, v.param, v.val, patient, item.id, v.sys ?? '');
      else if (v.lo !== null && v.hi !== null) dates.push(tenant, item.type, v.param, v.lo, v.hi, patient, item.id);
    }
  }
}

/** The statements that write and remove search-index rows (one set per connection). */
export interface SearchIndexStatements {
  addToken: Database.Statement;
  addTokens: Database.Statement;
  addDate: Database.Statement;
  addDates: Database.Statement;
  deleteToken: Database.Statement;
  deleteDate: Database.Statement;
}

export function searchIndexStatements(db: Database.Database): SearchIndexStatements {
  const tokens = 'INSERT OR IGNORE INTO search_tokens (tenant, type, param, val, patient_id, id, sys) VALUES';
  const dates = 'INSERT OR IGNORE INTO search_dates (tenant, type, param, lo, hi, patient_id, id) VALUES';
  const row = '(?, ?, ?, ?, ?, ?, ?)';
  return {
    addToken: db.prepare(`${tokens} ${row}`),
    addTokens: db.prepare(`${tokens} ${valuesList(ROWS_PER_INSERT, row)}`),
    addDate: db.prepare(`${dates} ${row}`),
    addDates: db.prepare(`${dates} ${valuesList(ROWS_PER_INSERT, row)}`),
    deleteToken: db.prepare('DELETE FROM search_tokens WHERE tenant = ? AND type = ? AND param = ? AND val = ? AND patient_id = ? AND id = ? AND sys = ?'),
    deleteDate: db.prepare('DELETE FROM search_dates WHERE tenant = ? AND type = ? AND param = ? AND lo = ? AND hi = ? AND patient_id = ? AND id = ?'),
  };
}

/** Writes rows `searchRows` collected, `ROWS_PER_INSERT` at a time. */
export function insertSearchRows(s: SearchIndexStatements, tokens: unknown[], dates: unknown[]): void {
  insertGrouped(s.addTokens, s.addToken, tokens, TOKEN_WIDTH);
  insertGrouped(s.addDates, s.addDate, dates, DATE_WIDTH);
}

/**
 * Removes the search-index rows of a stored version (its JSON): they are extracted again from it, as they were
 * when it was written. The tables have no by-resource key (each row is written into one B-tree, clustered by value,
 * which about halves what the index costs a write), so this is how a resource's rows are found;
 * `SEARCH_VALUES_VERSION` keeps the rows what the extraction gives.
 */
export function removeSearchRows(s: SearchIndexStatements, tenant: string, type: string, json: string | null): void {
  if (json === null || !INDEXED_PARAMS[type]) return;
  const stored = storedSearchValues(json);
  if (!stored?.searchValues?.length) return;
  const tokens: unknown[] = [];
  const dates: unknown[] = [];
  searchRows(tenant, stored, tokens, dates);
  for (let i = 0; i < tokens.length; i += TOKEN_WIDTH) s.deleteToken.run(tokens.slice(i, i + TOKEN_WIDTH));
  for (let i = 0; i < dates.length; i += DATE_WIDTH) s.deleteDate.run(dates.slice(i, i + DATE_WIDTH));
}

/**
 * Fills the search index again from every live resource's stored JSON (its tables emptied first) and records the
 * extraction's version. Runs inside the caller's transaction; returns how many resources got rows.
 */
export function rebuildSearchValues(db: Database.Database): number {
  db.exec('DELETE FROM search_tokens; DELETE FROM search_dates; DELETE FROM search_index');
  const types = Object.keys(INDEXED_PARAMS);
  const next = db.prepare(
    `SELECT tenant, type, id, json FROM resources
     WHERE deleted = 0 AND type IN (${types.map(() => '?').join(', ')}) AND (tenant, type, id) > (?, ?, ?)
     ORDER BY tenant, type, id LIMIT ${STEP}`,
  );
  const s = searchIndexStatements(db);
  let indexed = 0;
  let after: [string, string, string] = ['', '', ''];
  for (;;) {
    const rows = next.all(...types, ...after) as { tenant: string; type: string; id: string; json: string | null }[];
    const tokens: unknown[] = [];
    const dates: unknown[] = [];
    for (const row of rows) {
      const item = row.json === null ? undefined : storedSearchValues(row.json);
      if (!item?.searchValues?.length) continue;
      const before = tokens.length + dates.length;
      searchRows(row.tenant, item, tokens, dates);
      if (tokens.length + dates.length > before) indexed++;
    }
    insertSearchRows(s, tokens, dates);
    const last = rows[rows.length - 1];
    if (!last || rows.length < STEP) break;
    after = [last.tenant, last.type, last.id];
  }
  db.prepare('INSERT INTO search_index (version) VALUES (?)').run(SEARCH_VALUES_VERSION);
  return indexed;
}

/**
 * Extracts the search index again when its rows were extracted by another version of the code (see
 * `SEARCH_VALUES_VERSION`); returns whether it did.
 */
export function ensureSearchValuesCurrent(db: Database.Database): boolean {
  const current = (): boolean => db.prepare('SELECT version FROM search_index').pluck().get() === SEARCH_VALUES_VERSION;
  if (current()) return false;
  return db
    .transaction((): boolean => {
      // Another connection may have done it meanwhile.
      if (current()) return false;
      rebuildSearchValues(db);
      return true;
    })
    .immediate();
}
