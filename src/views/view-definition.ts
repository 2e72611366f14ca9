import { FhirError, invalid } from '../fhir/errors.js';

/** A view that cannot be evaluated over the data (a column with several values, a non-boolean where): 422. */
export const unprocessable = (msg: string): FhirError => new FhirError(422, 'processing', msg);

/** The parts of a SQL on FHIR ViewDefinition (2.0.0) the evaluator reads. */
export interface ViewColumn {
  name: string;
  path: string;
  type?: string;
  collection?: boolean;
  description?: string;
  tags?: { name: string; value: string }[];
}

export interface ViewSelect {
  column?: ViewColumn[];
  select?: ViewSelect[];
  forEach?: string;
  forEachOrNull?: string;
  repeat?: string[];
  unionAll?: ViewSelect[];
}

export interface ViewConstant {
  name: string;
  [valueX: string]: unknown;
}

export interface ViewDefinition extends ViewSelect {
  resourceType?: 'ViewDefinition';
  id?: string;
  url?: string;
  name?: string;
  title?: string;
  status?: string;
  resource: string;
  constant?: ViewConstant[];
  where?: { path: string; description?: string }[];
}

/** The output column names must be usable as SQL identifiers (the Shareable profile's rule). */
const COLUMN_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(where: string, msg: string): FhirError {
  return invalid(`ViewDefinition${where}: ${msg}`);
}

function checkPath(v: unknown, where: string): void {
  if (typeof v !== 'string' || v.trim() === '') throw fail(where, 'must be a non-empty FHIRPath string');
}

function checkSelect(s: unknown, where: string): void {
  if (!isObject(s)) throw fail(where, 'must be an object');
  if (s.column !== undefined) {
    if (!Array.isArray(s.column)) throw fail(`${where}.column`, 'must be an array');
    s.column.forEach((c: unknown, i) => {
      const w = `${where}.column[${i}]`;
      if (!isObject(c)) throw fail(w, 'must be an object');
      if (typeof c.name !== 'string' || !COLUMN_NAME.test(c.name))
        throw fail(`${w}.name`, 'must match ^[A-Za-z][A-Za-z0-9_]*$');
      checkPath(c.path, `${w}.path`);
      if (c.type !== undefined && typeof c.type !== 'string') throw fail(`${w}.type`, 'must be a string');
      if (c.collection !== undefined && typeof c.collection !== 'boolean')
        throw fail(`${w}.collection`, 'must be a boolean');
      if (c.tags !== undefined) {
        if (!Array.isArray(c.tags)) throw fail(`${w}.tags`, 'must be an array');
        c.tags.forEach((t: unknown, j) => {
          if (!isObject(t) || typeof t.name !== 'string' || typeof t.value !== 'string')
            throw fail(`${w}.tags[${j}]`, 'must have a string name and value');
        });
      }
    });
  }
  const iterations = ['forEach', 'forEachOrNull', 'repeat'].filter((k) => s[k] !== undefined);
  if (iterations.length > 1) throw fail(where, `only one of forEach, forEachOrNull and repeat may be given`);
  if (s.forEach !== undefined) checkPath(s.forEach, `${where}.forEach`);
  if (s.forEachOrNull !== undefined) checkPath(s.forEachOrNull, `${where}.forEachOrNull`);
  if (s.repeat !== undefined) {
    if (!Array.isArray(s.repeat) || s.repeat.length === 0) throw fail(`${where}.repeat`, 'must be a non-empty array');
    s.repeat.forEach((p: unknown, i) => checkPath(p, `${where}.repeat[${i}]`));
  }
  for (const key of ['select', 'unionAll'] as const) {
    const list = s[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) throw fail(`${where}.${key}`, 'must be an array');
    if (key === 'unionAll' && list.length === 0) throw fail(`${where}.unionAll`, 'must not be empty');
    list.forEach((sub: unknown, i) => checkSelect(sub, `${where}.${key}[${i}]`));
  }
}

/**
 * Checks the shape of a ViewDefinition (JSON) and returns it typed; throws a 400 FhirError naming the first
 * problem. FHIRPath syntax, constants and column names are checked when the view is compiled.
 */
export function parseViewDefinition(input: unknown): ViewDefinition {
  if (!isObject(input)) throw fail('', 'must be a JSON object');
  if (input.resourceType !== undefined && input.resourceType !== 'ViewDefinition')
    throw fail('.resourceType', `must be ViewDefinition, not ${JSON.stringify(input.resourceType)}`);
  if (typeof input.resource !== 'string' || !/^[A-Z][A-Za-z]+$/.test(input.resource))
    throw fail('.resource', 'must name a FHIR resource type');
  if (input.select === undefined || !Array.isArray(input.select) || input.select.length === 0)
    throw fail('.select', 'must be a non-empty array');
  checkSelect(input, '');
  if (input.constant !== undefined) {
    if (!Array.isArray(input.constant)) throw fail('.constant', 'must be an array');
    input.constant.forEach((c: unknown, i) => {
      const w = `.constant[${i}]`;
      if (!isObject(c)) throw fail(w, 'must be an object');
      if (typeof c.name !== 'string' || !COLUMN_NAME.test(c.name)) throw fail(`${w}.name`, 'must be a name');
      const values = Object.keys(c).filter((k) => k.startsWith('value'));
      if (values.length !== 1) throw fail(w, 'must have exactly one value[x]');
    });
  }
  if (input.where !== undefined) {
    if (!Array.isArray(input.where)) throw fail('.where', 'must be an array');
    input.where.forEach((w: unknown, i) => {
      if (!isObject(w)) throw fail(`.where[${i}]`, 'must be an object');
      checkPath(w.path, `.where[${i}].path`);
    });
  }
  return input as unknown as ViewDefinition;
}
