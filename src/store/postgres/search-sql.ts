import type { Sql } from './db.js';
import type { PreparedResource } from '../../fhir/resource.js';

/** The SQL that keeps the search-value index (see fhir/search-values.ts) in step with writes. */

export const clearSearchValues = (tenant: string, types: string[], ids: string[]): Sql => ({
  text: `DELETE FROM search_values s USING unnest($2::text[], $3::text[]) AS u(type, id)
    WHERE s.tenant = $1 AND s.type = u.type AND s.id = u.id`,
  values: [tenant, types, ids],
});

export interface SearchRows {
  types: string[];
  ids: string[];
  params: string[];
  patients: string[];
  syss: (string | null)[];
  vals: (string | null)[];
  los: (number | null)[];
  his: (number | null)[];
}

export const emptySearchRows = (): SearchRows => ({ types: [], ids: [], params: [], patients: [], syss: [], vals: [], los: [], his: [] });

/** Adds a resource's rows (one per search value and compartment patient) to `rows`; returns how many. */
export function pushSearchRows(rows: SearchRows, type: string, id: string, item: Pick<PreparedResource, 'patients' | 'searchValues'>): number {
  let n = 0;
  for (const v of item.searchValues ?? []) {
    for (const patient of item.patients) {
      rows.types.push(type);
      rows.ids.push(id);
      rows.params.push(v.param);
      rows.patients.push(patient);
      rows.syss.push(v.sys);
      rows.vals.push(v.val);
      rows.los.push(v.lo);
      rows.his.push(v.hi);
      n++;
    }
  }
  return n;
}

export const addSearchValues = (tenant: string, r: SearchRows): Sql => ({
  text: `INSERT INTO search_values (tenant, type, id, param, patient_id, sys, val, lo, hi)
    SELECT $1, u.type, u.id, u.param, u.patient_id, u.sys, u.val, u.lo, u.hi
    FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[]) AS u(type, id, param, patient_id, sys, val, lo, hi)`,
  values: [tenant, r.types, r.ids, r.params, r.patients, r.syss, r.vals, r.los, r.his],
});
