/**
 * Dynamic group criteria: the Bulk Data v3 `member-filter` expressions (FHIR search expressions such as
 * `Encounter?status=finished&date=ge-7d&reason-code=http://snomed.info/sct|44054006`) over Patient and the resources of
 * the patient compartment. A patient is a member when, for every criterion of the group, one resource of the
 * criterion's type in the patient's compartment (or the Patient itself) matches every parameter of it.
 *
 * Only what the search-value index holds can be evaluated (fhir/search-values.ts: INDEXED_PARAMS); anything else
 * (another parameter, a modifier, a chain, a prefix the index cannot answer) is refused when the group is
 * created, never ignored.
 *
 * Values:
 * - token: `code`, `system|code`, `|code` (no system), `system|` (any code of the system).
 * - string: starts with the value (case and accents ignored); `:contains` anywhere in it.
 * - reference: `Type/id` (or a bare id when the parameter has one target type).
 * - date: an optional prefix (`eq` default, `gt`, `lt`, `ge`, `le`, `sa`, `eb`) and a FHIR date/dateTime
 *   (`2024-05`, `2024-05-01T08:00:00Z`) or a time relative to the kick-off: `-7d`, `-12h`, `-2w`, `+0d` (a sign,
 *   a number and h, d or w). `date=ge-7d` at a kick-off on 2024-05-08T06:00Z means `date=ge2024-05-01T06:00:00Z`.
 * Commas separate alternatives (any may match); a parameter given twice must match both times.
 */
import { dateRange, indexedParamType, type IndexedParamType, INDEXED_PARAMS, normalizeString, referenceTargets } from './search-values.js';

export type DatePrefix = 'eq' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb';

/** One alternative a parameter may match, as the store compares it. */
export type ValuePredicate =
  /** `system` undefined: any system; null: no system. `code` undefined: any code of the system. */
  | { kind: 'token'; system?: string | null; code?: string }
  | { kind: 'string'; prefix?: string; contains?: string }
  | { kind: 'reference'; value: string }
  /** The value covers [lo, hi] (epoch ms, inclusive). */
  | { kind: 'date'; op: DatePrefix; lo: number; hi: number };

/** A criterion with its times resolved: what the store evaluates. */
export interface CohortCriterion {
  type: string;
  conditions: { param: string; anyOf: ValuePredicate[] }[];
}

type RawDate = { op: DatePrefix; absolute?: string; relativeMs?: number };

interface ParsedCondition {
  param: string;
  type: IndexedParamType;
  values: (Exclude<ValuePredicate, { kind: 'date' }> | { kind: 'date'; raw: RawDate })[];
}

/** A criterion as written, checked: resolve it against a kick-off time with `resolveCriterion`. */
export interface MemberFilter {
  text: string;
  type: string;
  conditions: ParsedCondition[];
}

const PREFIXES = new Set<DatePrefix>(['eq', 'gt', 'lt', 'ge', 'le', 'sa', 'eb']);
const RELATIVE = /^([+-])(\d{1,5})(h|d|w)$/;
const UNIT_MS = { h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;

function splitValues(value: string): string[] {
  return value.split(/(?<!\\),/).map((v) => v.replace(/\\,/g, ','));
}

function parseDate(text: string): RawDate | string {
  let op: DatePrefix = 'eq';
  let rest = text;
  const p = text.slice(0, 2) as DatePrefix;
  if (PREFIXES.has(p) && !/^\d/.test(text)) {
    op = p;
    rest = text.slice(2);
  } else if (/^[a-z]{2}/.test(text)) {
    return `the date prefix "${text.slice(0, 2)}" is not supported (use eq, gt, lt, ge, le, sa or eb)`;
  }
  const rel = RELATIVE.exec(rest);
  if (rel) {
    const ms = Number(rel[2]) * UNIT_MS[rel[3] as keyof typeof UNIT_MS];
    return { op, relativeMs: rel[1] === '-' ? -ms : ms };
  }
  if (!dateRange(rest)) return `"${rest}" is neither a FHIR date nor a relative time such as -7d`;
  return { op, absolute: rest };
}

/** Parses and checks one criterion; the error says what cannot be evaluated. */
export function parseMemberFilter(text: string): { filter: MemberFilter } | { error: string } {
  const q = text.indexOf('?');
  if (q <= 0) return { error: `"${text}" is not of the form Type?parameter=value&…` };
  const type = text.slice(0, q);
  if (!INDEXED_PARAMS[type]) {
    return { error: `"${text}": ${type} cannot be used; the types are Patient and the patient compartment types ${Object.keys(INDEXED_PARAMS).filter((t) => t !== 'Patient').join(', ')}` };
  }
  const query = text.slice(q + 1);
  if (query === '') return { error: `"${text}" has no search parameter` };
  const conditions: ParsedCondition[] = [];
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return { error: `"${text}": "${part}" is not parameter=value` };
    let name: string;
    let value: string;
    try {
      name = decodeURIComponent(part.slice(0, eq));
      value = decodeURIComponent(part.slice(eq + 1).replace(/\+/g, ' '));
    } catch {
      return { error: `"${text}": "${part}" is not well percent-encoded` };
    }
    const [param, modifier, ...more] = name.split(':') as [string, string | undefined, ...string[]];
    if (param.includes('.') || param.startsWith('_')) return { error: `"${text}": ${name}: chained, reverse-chained and result parameters are not supported` };
    const paramType = indexedParamType(type, param);
    if (!paramType) return { error: `"${text}": ${type}.${param} is not indexed; indexed are ${(INDEXED_PARAMS[type] ?? []).join(', ')}` };
    if (more.length > 0 || (modifier !== undefined && !(paramType === 'string' && modifier === 'contains'))) {
      return { error: `"${text}": the modifier :${modifier ?? ''} is not supported${paramType === 'string' ? ' (only :contains)' : ''}` };
    }
    if (value === '') return { error: `"${text}": ${name} has no value` };
    const values: ParsedCondition['values'] = [];
    for (const v of splitValues(value)) {
      if (paramType === 'token') {
        const bar = v.indexOf('|');
        if (bar < 0) values.push({ kind: 'token', code: v });
        else {
          const system = v.slice(0, bar);
          const code = v.slice(bar + 1);
          if (system === '' && code === '') return { error: `"${text}": "${v}" names neither a system nor a code` };
          values.push({ kind: 'token', system: system === '' ? null : system, ...(code === '' ? {} : { code }) });
        }
      } else if (paramType === 'string') {
        const n = normalizeString(v);
        values.push(modifier === 'contains' ? { kind: 'string', contains: n } : { kind: 'string', prefix: n });
      } else if (paramType === 'reference') {
        if (/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(v)) values.push({ kind: 'reference', value: v });
        else if (/^[A-Za-z0-9\-.]{1,64}$/.test(v)) {
          const targets = referenceTargets(type, param);
          if (targets.length !== 1) return { error: `"${text}": ${param}=${v}: give the reference as Type/id` };
          values.push({ kind: 'reference', value: `${targets[0] as string}/${v}` });
        } else return { error: `"${text}": ${param}=${v} is not a Type/id reference` };
      } else {
        const raw = parseDate(v);
        if (typeof raw === 'string') return { error: `"${text}": ${param}: ${raw}` };
        values.push({ kind: 'date', raw });
      }
    }
    conditions.push({ param, type: paramType, values });
  }
  return { filter: { text, type, conditions } };
}

/** The criterion with relative times resolved against `at` (the kick-off instant, epoch ms). */
export function resolveCriterion(filter: MemberFilter, at: number): CohortCriterion {
  return {
    type: filter.type,
    conditions: filter.conditions.map((c) => ({
      param: c.param,
      anyOf: c.values.map((v): ValuePredicate => {
        if (v.kind !== 'date') return v;
        if (v.raw.relativeMs !== undefined) {
          const t = at + v.raw.relativeMs;
          return { kind: 'date', op: v.raw.op, lo: t, hi: t };
        }
        const r = dateRange(v.raw.absolute as string) as { lo: number; hi: number };
        return { kind: 'date', op: v.raw.op, lo: r.lo, hi: r.hi };
      }),
    })),
  };
}

/** Whether a criterion has relative times (its members change with the kick-off time). */
export const isRelative = (filter: MemberFilter): boolean => filter.conditions.some((c) => c.values.some((v) => v.kind === 'date' && v.raw.relativeMs !== undefined));
