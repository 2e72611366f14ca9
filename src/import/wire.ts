/**
 * How parsed resources cross from a parsing thread to the writing one. The structured clone of many small objects
 * costs the receiving thread (the writer, the import's bottleneck) more than parsing one JSON text of the same
 * values, so each resource's search values travel as a JSON array `[param, sys, val, lo, hi, …]`.
 */
import type { PreparedResource } from '../fhir/resource.js';
import type { SearchValue } from '../fhir/search-values.js';

/** A prepared resource as posted: its search values packed. */
export type WireResource = Omit<PreparedResource, 'searchValues'> & { packedSearchValues?: string };

export function packResources(items: PreparedResource[]): WireResource[] {
  return items.map((item) => {
    if (!item.searchValues) return item;
    const { searchValues, ...rest } = item;
    const flat: (string | number | null)[] = [];
    for (const v of searchValues) flat.push(v.param, v.sys, v.val, v.lo, v.hi);
    return { ...rest, packedSearchValues: JSON.stringify(flat) };
  });
}

/** Unpacks in place (the posted objects are this thread's own copies). */
export function unpackResources(items: WireResource[]): PreparedResource[] {
  for (const item of items) {
    if (item.packedSearchValues === undefined) continue;
    const flat = JSON.parse(item.packedSearchValues) as (string | number | null)[];
    const values: SearchValue[] = [];
    for (let i = 0; i + 4 < flat.length; i += 5) {
      values.push({ param: flat[i] as string, sys: flat[i + 1] as string | null, val: flat[i + 2] as string | null, lo: flat[i + 3] as number | null, hi: flat[i + 4] as number | null });
    }
    delete item.packedSearchValues;
    (item as PreparedResource).searchValues = values;
  }
  return items as PreparedResource[];
}
