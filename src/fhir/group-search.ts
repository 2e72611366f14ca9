/**
 * `GET [base]/Group`: the groups a client can export, searched by `name` (starts with, case and accents ignored;
 * `:exact`, `:contains`), `identifier` (`system|value`, `value`, `system|`), `_id` (comma-separated), with
 * `_summary=count`, `_count` (default 50, at most 500) and `_offset` for paging. Any other parameter is refused.
 */
import { invalid } from './errors.js';
import type { FhirResource } from './resource.js';
import { normalizeString } from './search-values.js';

interface GroupLike extends FhirResource {
  name?: string;
  identifier?: { system?: string; value?: string }[];
}

export interface GroupSearch {
  name?: { value: string; mode: 'prefix' | 'exact' | 'contains' };
  identifier?: { system?: string | null; value?: string };
  ids?: Set<string>;
  summaryCount: boolean;
  count: number;
  offset: number;
}

const single = (v: string | string[] | undefined, name: string): string | undefined => {
  if (Array.isArray(v)) {
    if (v.length > 1) throw invalid(`The parameter ${name} is given more than once.`);
    return v[0];
  }
  return v;
};

export function parseGroupSearch(query: Record<string, string | string[] | undefined>): GroupSearch {
  const out: GroupSearch = { summaryCount: false, count: 50, offset: 0 };
  for (const [key, raw] of Object.entries(query)) {
    const v = single(raw, key);
    if (v === undefined) continue;
    const [param, modifier] = key.split(':');
    if (param === 'name') {
      const mode = modifier === undefined ? 'prefix' : modifier;
      if (mode !== 'prefix' && mode !== 'exact' && mode !== 'contains') throw invalid(`name:${modifier} is not supported (use name, name:exact or name:contains).`);
      out.name = { value: v, mode };
    } else if (modifier !== undefined) {
      throw invalid(`The modifier :${modifier} is not supported on ${param}.`);
    } else if (param === 'identifier') {
      const bar = v.indexOf('|');
      if (bar < 0) out.identifier = { value: v };
      else {
        const system = v.slice(0, bar);
        const value = v.slice(bar + 1);
        out.identifier = { system: system === '' ? null : system, ...(value === '' ? {} : { value }) };
      }
    } else if (param === '_id') {
      out.ids = new Set(v.split(',').filter((x) => x !== ''));
    } else if (param === '_summary') {
      if (v !== 'count') throw invalid('Only _summary=count is supported.');
      out.summaryCount = true;
    } else if (param === '_count' || param === '_offset') {
      if (!/^\d{1,6}$/.test(v)) throw invalid(`${param} must be a non-negative integer.`);
      const n = Number(v);
      if (param === '_count') out.count = Math.min(Math.max(n, 1), 500);
      else out.offset = n;
    } else if (param !== '_format') {
      throw invalid(`The search parameter ${key} is not supported on Group (name, identifier, _id, _summary=count, _count, _offset).`);
    }
  }
  return out;
}

export function groupMatches(g: GroupLike, s: GroupSearch): boolean {
  if (s.ids && !s.ids.has(g.id)) return false;
  if (s.name) {
    const name = g.name ?? '';
    if (s.name.mode === 'exact') {
      if (name !== s.name.value) return false;
    } else {
      const have = normalizeString(name);
      const want = normalizeString(s.name.value);
      if (s.name.mode === 'prefix' ? !have.startsWith(want) : !have.includes(want)) return false;
    }
  }
  if (s.identifier) {
    const { system, value } = s.identifier;
    const ok = (g.identifier ?? []).some(
      (i) => (value === undefined || i.value === value) && (system === undefined || (system === null ? i.system === undefined : i.system === system)),
    );
    if (!ok) return false;
  }
  return true;
}

/** The searchset Bundle of one page of matching groups (sorted by id), with `self` and `next` links. */
export function groupBundle(matches: string[], s: GroupSearch, selfUrl: string, base: string): Record<string, unknown> {
  if (s.summaryCount) return { resourceType: 'Bundle', type: 'searchset', total: matches.length, link: [{ relation: 'self', url: selfUrl }] };
  const page = matches.slice(s.offset, s.offset + s.count);
  const link: { relation: string; url: string }[] = [{ relation: 'self', url: selfUrl }];
  if (s.offset + s.count < matches.length) {
    const next = new URL(selfUrl);
    next.searchParams.set('_offset', String(s.offset + s.count));
    next.searchParams.set('_count', String(s.count));
    link.push({ relation: 'next', url: next.toString() });
  }
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    link,
    entry: page.map((json) => {
      const id = (JSON.parse(json) as { id: string }).id;
      return { fullUrl: `${base}/Group/${id}`, resource: JSON.parse(json) as unknown, search: { mode: 'match' } };
    }),
  };
}
