import type { PoolClient } from 'pg';
import { prepareStored } from '../../fhir/prepare.js';
import { INDEXED_PARAMS } from '../../fhir/search-values.js';
import { addSearchValues, emptySearchRows, pushSearchRows, type SearchRows } from './search-sql.js';

/** Resources read per step (their JSON is parsed): memory stays flat however large the store. */
const STEP = 1000;

/**
 * Fills the search-value index for the live resources that have no row in it (those stored before the index
 * existed): their values are extracted from the stored JSON, as a write extracts them. Runs inside the caller's
 * transaction; returns how many resources got rows.
 */
export async function indexMissingSearchValues(client: PoolClient): Promise<number> {
  const types = Object.keys(INDEXED_PARAMS);
  let indexed = 0;
  let after = ['', '', ''];
  for (;;) {
    const { rows } = await client.query<{ tenant: string; type: string; id: string; json: string | null }>(
      `SELECT r.tenant, r.type, r.id, r.json FROM resources r
       WHERE NOT r.deleted AND r.type = ANY($1::text[]) AND (r.tenant, r.type, r.id) > ($2, $3, $4)
         AND NOT EXISTS (SELECT 1 FROM search_values s WHERE s.tenant = r.tenant AND s.type = r.type AND s.id = r.id)
       ORDER BY r.tenant, r.type, r.id LIMIT ${STEP}`,
      [types, ...after],
    );
    const byTenant = new Map<string, SearchRows>();
    for (const row of rows) {
      const prepared = prepareStored(row.json);
      if (!prepared) continue;
      let search = byTenant.get(row.tenant);
      if (!search) byTenant.set(row.tenant, (search = emptySearchRows()));
      if (pushSearchRows(search, row.type, row.id, prepared) > 0) indexed++;
    }
    for (const [tenant, search] of byTenant) if (search.ids.length > 0) await client.query(addSearchValues(tenant, search));
    const last = rows[rows.length - 1];
    if (!last || rows.length < STEP) break;
    after = [last.tenant, last.type, last.id];
  }
  return indexed;
}
