import type Database from 'better-sqlite3';
import { prepareStored } from '../../fhir/prepare.js';
import { INDEXED_PARAMS } from '../../fhir/search-values.js';

/** Resources read per step (their JSON is parsed): memory stays flat however large the store. */
const STEP = 1000;

/**
 * Fills the search-value index for the live resources that have no row in it (those stored before the index
 * existed): their values are extracted from the stored JSON, as a write extracts them. Runs inside the caller's
 * transaction; returns how many resources got rows.
 */
export function indexMissingSearchValues(db: Database.Database): number {
  const types = Object.keys(INDEXED_PARAMS);
  const typeList = types.map(() => '?').join(', ');
  const next = db.prepare(
    `SELECT r.tenant, r.type, r.id, r.json FROM resources r
     WHERE r.deleted = 0 AND r.type IN (${typeList}) AND (r.tenant, r.type, r.id) > (?, ?, ?)
       AND NOT EXISTS (SELECT 1 FROM search_values s WHERE s.tenant = r.tenant AND s.type = r.type AND s.id = r.id)
     ORDER BY r.tenant, r.type, r.id LIMIT ${STEP}`,
  );
  const insert = db.prepare('INSERT INTO search_values (tenant, type, id, param, patient_id, k, sys, val, lo, hi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  let indexed = 0;
  let after: [string, string, string] = ['', '', ''];
  for (;;) {
    const rows = next.all(...types, ...after) as { tenant: string; type: string; id: string; json: string | null }[];
    for (const row of rows) {
      const prepared = prepareStored(row.json);
      if (!prepared) continue;
      let k = 0;
      for (const v of prepared.searchValues ?? []) {
        for (const patient of prepared.patients) insert.run(row.tenant, row.type, row.id, v.param, patient, k++, v.sys, v.val, v.lo, v.hi);
      }
      if (k > 0) indexed++;
    }
    const last = rows[rows.length - 1];
    if (!last || rows.length < STEP) break;
    after = [last.tenant, last.type, last.id];
  }
  return indexed;
}
