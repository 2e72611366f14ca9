/**
 * The SQL of dynamic group evaluation over the search-value index, for both dialects: one statement, set-based
 * (each criterion a join of index rows of one resource, the criteria intersected), no resource read or parsed.
 *
 * The index has one of two layouts. `one-table` (PostgreSQL): every value a row of `search_values`, keyed by resource,
 * with indexes by value and by date. `by-value` (SQLite): tokens, strings and references rows of `search_tokens`
 * keyed (tenant, type, param, val, patient_id, id, sys), `sys` '' for none, and dates rows of `search_dates` keyed
 * (tenant, type, param, lo, hi, patient_id, id); a resource's other conditions are checked by a seek on the same key
 * when they name a value, or against the set of resources matching them, built once.
 */
import type { CohortCriterion, ValuePredicate } from '../fhir/member-filter.js';

export interface Dialect {
  /** Adds a parameter and returns its placeholder. */
  param(value: unknown): string;
  /** `position of needle in haystack > 0` */
  contains(haystack: string, needle: string): string;
  notDeleted: string;
  index: 'one-table' | 'by-value';
}

type Condition = CohortCriterion['conditions'][number];

/** The highest string a prefix range needs: every value starting with the prefix sorts below prefix + this. */
const TOP = '\u{10FFFF}';

function predicate(alias: string, v: ValuePredicate, d: Dialect): string {
  switch (v.kind) {
    case 'token': {
      const parts: string[] = [];
      if (v.code !== undefined) parts.push(`${alias}.val = ${d.param(v.code)}`);
      if (v.system === null) parts.push(d.index === 'by-value' ? `${alias}.sys = ''` : `${alias}.sys IS NULL`);
      else if (v.system !== undefined) parts.push(`${alias}.sys = ${d.param(v.system)}`);
      return parts.length > 0 ? parts.join(' AND ') : 'TRUE';
    }
    case 'string':
      if (v.contains !== undefined) return d.contains(`${alias}.val`, d.param(v.contains));
      return `${alias}.val >= ${d.param(v.prefix ?? '')} AND ${alias}.val < ${d.param(`${v.prefix ?? ''}${TOP}`)}`;
    case 'reference':
      return `${alias}.val = ${d.param(v.value)}`;
    case 'date': {
      const lo = `${alias}.lo`;
      const hi = `${alias}.hi`;
      switch (v.op) {
        case 'eq':
          return `${lo} >= ${d.param(v.lo)} AND ${hi} <= ${d.param(v.hi)}`;
        case 'gt':
          return `${hi} > ${d.param(v.hi)}`;
        case 'ge':
          return `${hi} >= ${d.param(v.lo)}`;
        case 'lt':
          return `${lo} < ${d.param(v.lo)}`;
        case 'le':
          return `${lo} <= ${d.param(v.hi)}`;
        case 'sa':
          return `${lo} > ${d.param(v.hi)}`;
        case 'eb':
          return `${hi} < ${d.param(v.lo)}`;
      }
    }
  }
  return 'FALSE';
}

/**
 * How selective a condition is likely to be (lower first): the first condition drives the join, so a code with
 * its system goes before a date range, and both before a bare code such as `status=finished`.
 */
function rank(x: Condition): number {
  const worst = Math.max(
    ...x.anyOf.map((v) => {
      if (v.kind === 'reference') return 0;
      if (v.kind === 'token') return v.code !== undefined && typeof v.system === 'string' ? 1 : v.code !== undefined ? 4 : 5;
      if (v.kind === 'string') return v.contains !== undefined ? 6 : 2;
      return v.op === 'eq' ? 2 : 3;
    }),
  );
  return worst * 100 + x.anyOf.length;
}

const anyOf = (alias: string, x: Condition, d: Dialect): string => `(${x.anyOf.map((v) => `(${predicate(alias, v, d)})`).join(' OR ')})`;

/** A criterion over the `by-value` layout. */
function byValueSql(tenant: string, c: CohortCriterion, first: Condition, rest: Condition[], d: Dialect): string {
  const table = (x: Condition): string => (x.anyOf.every((v) => v.kind === 'date') ? 'search_dates' : 'search_tokens');
  const where = (alias: string, x: Condition): string => `${alias}.param = ${d.param(x.param)} AND ${anyOf(alias, x, d)}`;
  // Placeholders are numbered in the order `d.param` is called: the text is built from left to right.
  const head = `SELECT s0.patient_id FROM ${table(first)} s0 WHERE s0.tenant = ${d.param(tenant)} AND s0.type = ${d.param(c.type)} AND ${where('s0', first)}`;
  const checks = rest.map((x, i) => {
    const a = `s${i + 1}`;
    // A value named (a code, a reference): one seek on the key for each of the resources the first condition gave.
    if (x.anyOf.every((v) => v.kind === 'reference' || (v.kind === 'token' && v.code !== undefined))) {
      const one = (v: ValuePredicate): string =>
        `EXISTS (SELECT 1 FROM search_tokens ${a} WHERE ${a}.tenant = s0.tenant AND ${a}.type = s0.type AND ${a}.param = ${d.param(x.param)} AND ${predicate(a, v, d)} AND ${a}.patient_id = s0.patient_id AND ${a}.id = s0.id)`;
      return `(${x.anyOf.map(one).join(' OR ')})`;
    }
    // A range, a prefix, a part of a string, a system alone: the resources matching it, found once.
    return `(s0.patient_id, s0.id) IN (SELECT ${a}.patient_id, ${a}.id FROM ${table(x)} ${a} WHERE ${a}.tenant = ${d.param(tenant)} AND ${a}.type = ${d.param(c.type)} AND ${where(a, x)})`;
  });
  return `${head}${checks.map((x) => ` AND ${x}`).join('')}`;
}

function criterionSql(tenant: string, c: CohortCriterion, d: Dialect): string {
  const [first, ...rest] = [...c.conditions].sort((a, b) => rank(a) - rank(b));
  if (!first) throw new Error('a criterion needs a condition');
  if (d.index === 'by-value') return byValueSql(tenant, c, first, rest, d);
  // Every value row has a val, every date row a lo: the term says which kind of row a condition is about.
  const cond = (alias: string, x: Condition): string =>
    `${alias}.param = ${d.param(x.param)} AND ${alias}.${x.anyOf.every((v) => v.kind === 'date') ? 'lo' : 'val'} IS NOT NULL AND ${anyOf(alias, x, d)}`;
  const joins = rest.map(
    (x, i) =>
      `JOIN search_values s${i + 1} ON s${i + 1}.tenant = s0.tenant AND s${i + 1}.type = s0.type AND s${i + 1}.id = s0.id AND s${i + 1}.patient_id = s0.patient_id AND ${cond(`s${i + 1}`, x)}`,
  );
  return `SELECT s0.patient_id FROM search_values s0 ${joins.join(' ')} WHERE s0.tenant = ${d.param(tenant)} AND s0.type = ${d.param(c.type)} AND ${cond('s0', first)}`;
}

/** Live Patients matching every criterion, in id order, at most `limit`. */
export function cohortSql(tenant: string, criteria: CohortCriterion[], limit: number, d: Dialect): string {
  if (criteria.length === 0) throw new Error('a cohort needs a criterion');
  const sets = criteria.map((c) => criterionSql(tenant, c, d)).join(' INTERSECT ');
  return `SELECT m.patient_id FROM (${sets}) m
    WHERE EXISTS (SELECT 1 FROM resources r WHERE r.tenant = ${d.param(tenant)} AND r.type = 'Patient' AND r.id = m.patient_id AND ${d.notDeleted})
    GROUP BY m.patient_id ORDER BY m.patient_id LIMIT ${d.param(limit)}`;
}
