import type { FhirPathAtom, TypedValue } from '@medplum/core';
import { medplum } from '../fhir/medplum.js';
import { invalid } from '../fhir/errors.js';
import { compileFast, compileScalar, type FastFn, type ScalarFn, SEVERAL } from './fast-path.js';
import { ansiType } from './sql-types.js';
import { parseViewDefinition, unprocessable, type ViewDefinition, type ViewSelect } from './view-definition.js';

/** One output column of a view, in the order the rows carry their values. */
export interface ColumnInfo {
  name: string;
  /** The FHIR type the view declares (string, integer, decimal, boolean, date, dateTime, instant, code, …), if any. */
  type: string | undefined;
  collection: boolean;
  /** The DuckDB type an `ansi/type` tag asks for. */
  ansiType?: string;
}

/** A row: one value per column, in `columns` order; null for an empty result, an array for a collection column. */
export type ViewRow = unknown[];

export interface CompiledView {
  readonly definition: ViewDefinition;
  readonly resource: string;
  readonly columns: readonly ColumnInfo[];
  /** Which FHIRPath engine evaluates the view's paths. */
  readonly engine: 'fast' | 'fhirpath';
  /** The rows one resource yields (none if it is of another type or fails `where`). Throws a 422 FhirError on a
   * column that yields several values without `collection: true`. */
  rows(resource: Record<string, unknown>): ViewRow[];
}

/** Values as the engine holds them: TypedValue for @medplum/core's FHIRPath, plain JSON for the fast engine. */
type Item = unknown;
type Vars = Record<string, unknown>;
type PathFn = (input: Item, vars: Vars) => Item[];

const ROW_INDEX = '%rowIndex';
/** Environment variables FHIRPath or the view machinery define; any other %name must be a view constant. */
const BUILT_IN = new Set(['rowIndex', 'resource', 'rootResource', 'context', 'ucum', 'sct', 'loinc', 'profile']);

function stripStrings(path: string): string {
  return path.replace(/'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, "''");
}

/** How paths are evaluated: one engine for the whole view, so every path sees values of one kind. */
interface Engine {
  readonly name: 'fast' | 'fhirpath';
  compile(path: string, parsed: FhirPathAtom): PathFn;
  root(resource: Record<string, unknown>): Item;
  variable(value: unknown, type: string): unknown;
  value(item: Item): unknown;
  isBoolean(item: Item): boolean;
}

const FHIRPATH_ENGINE: Engine = {
  name: 'fhirpath',
  compile(path, atom) {
    const { evalFhirPathTyped } = medplum();
    return (input, vars) => {
      try {
        return evalFhirPathTyped(atom, [input as TypedValue], vars as Record<string, TypedValue>);
      } catch (err) {
        throw unprocessable(`FHIRPath ${JSON.stringify(path)} failed: ${(err as Error).message}`);
      }
    };
  },
  root: (r) => medplum().toTypedValue(r),
  variable: (value, type) => ({ type, value }),
  value: (item) => (item as TypedValue).value,
  isBoolean: (item) => (item as TypedValue).type === 'boolean' || typeof (item as TypedValue).value === 'boolean',
};

function fastEngine(compiled: Map<string, FastFn>): Engine {
  return {
    name: 'fast',
    compile(path) {
      const fn = compiled.get(path) as FastFn;
      return (input, vars) => {
        try {
          return fn([input], vars, input);
        } catch (err) {
          throw unprocessable(`FHIRPath ${JSON.stringify(path)} failed: ${(err as Error).message}`);
        }
      };
    },
    root: (r) => r,
    variable: (value) => value,
    value: (item) => item,
    isBoolean: (item) => typeof item === 'boolean',
  };
}

/** Every FHIRPath expression of a view (parsed once), checked for syntax and for constants it does not define. */
function parsePaths(definition: ViewDefinition, constants: ReadonlySet<string>): Map<string, FhirPathAtom> {
  const parsed = new Map<string, FhirPathAtom>();
  const visit = (path: string, where: string): void => {
    for (const m of stripStrings(path).matchAll(/%([A-Za-z_][A-Za-z0-9_]*)/g)) {
      const name = m[1] as string;
      if (!BUILT_IN.has(name) && !constants.has(name))
        throw invalid(`ViewDefinition${where}: %${name} is not a constant of the view`);
    }
    if (parsed.has(path)) return;
    try {
      parsed.set(path, medplum().parseFhirPath(path));
    } catch (err) {
      throw invalid(`ViewDefinition${where}: invalid FHIRPath ${JSON.stringify(path)}: ${(err as Error).message}`);
    }
  };
  const walk = (s: ViewSelect, where: string): void => {
    (s.column ?? []).forEach((c, i) => visit(c.path, `${where}.column[${i}].path`));
    if (s.forEach !== undefined) visit(s.forEach, `${where}.forEach`);
    if (s.forEachOrNull !== undefined) visit(s.forEachOrNull, `${where}.forEachOrNull`);
    (s.repeat ?? []).forEach((p, i) => visit(p, `${where}.repeat[${i}]`));
    (s.select ?? []).forEach((sub, i) => walk(sub, `${where}.select[${i}]`));
    (s.unionAll ?? []).forEach((sub, i) => walk(sub, `${where}.unionAll[${i}]`));
  };
  (definition.where ?? []).forEach((w, i) => visit(w.path, `.where[${i}].path`));
  walk(definition, '');
  return parsed;
}

/** The fast engine when it covers every path of the view (and `engine` does not ask otherwise). */
function chooseEngine(parsed: Map<string, FhirPathAtom>, engine: 'auto' | 'fhirpath'): Engine {
  if (engine === 'fhirpath') return FHIRPATH_ENGINE;
  const compiled = new Map<string, FastFn>();
  for (const [path, atom] of parsed) {
    const fn = compileFast(atom);
    if (!fn) return FHIRPATH_ENGINE;
    compiled.set(path, fn);
  }
  return fastEngine(compiled);
}

interface Compiler {
  engine: Engine;
  parsed: Map<string, FhirPathAtom>;
  rowIndex: boolean;
}

function compilePath(compiler: Compiler, path: string): PathFn {
  return compiler.engine.compile(path, compiler.parsed.get(path) as FhirPathAtom);
}

interface CompiledColumn {
  name: string;
  path: PathFn;
  /** The fast engine's single-value accessor of the path, when it has one (else `path` alone). */
  scalar: ScalarFn | undefined;
  collection: boolean;
  rowIndexOnly: boolean;
}

/** A compiled selection structure; its columns occupy `width` consecutive positions of the row. */
interface Node {
  width: number;
  iterate: 'none' | 'forEach' | 'forEachOrNull' | 'repeat';
  foci: PathFn[];
  columns: CompiledColumn[];
  selects: Node[];
  unionAll: Node[] | undefined;
  /** For an empty forEachOrNull: the null row (with %rowIndex columns at 0). */
  nullRow: ViewRow;
  engine: Engine;
  /** Whether %rowIndex is read anywhere in the view (else it is not maintained). */
  rowIndex: boolean;
}

function constantValue(c: Record<string, unknown>): { type: string; value: unknown } {
  const key = Object.keys(c).find((k) => k.startsWith('value')) as string;
  const t = key.slice(5);
  const type = t.charAt(0).toLowerCase() + t.slice(1);
  return { type, value: c[key] };
}

function compileSelect(
  s: ViewSelect,
  compiler: Compiler,
  where: string,
  out: ColumnInfo[],
  rowIndexPositions: number[],
): Node {
  const start = out.length;
  const columns: CompiledColumn[] = [];
  (s.column ?? []).forEach((c, i) => {
    if (out.some((o) => o.name === c.name)) throw invalid(`ViewDefinition: column ${c.name} is defined twice`);
    const rowIndexOnly = c.path.trim() === ROW_INDEX;
    if (rowIndexOnly) rowIndexPositions.push(out.length);
    const tag = c.tags?.find((t) => t.name === 'ansi/type');
    const ansi = tag ? ansiType(tag.value) : undefined;
    if (tag && !ansi) throw invalid(`ViewDefinition${where}.column[${i}]: ansi/type ${JSON.stringify(tag.value)} is not supported`);
    out.push({ name: c.name, type: c.type, collection: c.collection === true, ...(ansi ? { ansiType: ansi } : {}) });
    columns.push({
      name: c.name,
      path: compilePath(compiler, c.path),
      scalar: compiler.engine.name === 'fast' && c.collection !== true && !rowIndexOnly ? compileScalar(compiler.parsed.get(c.path)) : undefined,
      collection: c.collection === true,
      rowIndexOnly,
    });
  });
  const selects = (s.select ?? []).map((sub, i) =>
    compileSelect(sub, compiler, `${where}.select[${i}]`, out, rowIndexPositions),
  );
  let unionAll: Node[] | undefined;
  if (s.unionAll) {
    const before = out.length;
    let first: ColumnInfo[] | undefined;
    unionAll = s.unionAll.map((u, i) => {
      const branchCols = out.slice(0, before);
      const branchIdx: number[] = [];
      const node = compileSelect(u, compiler, `${where}.unionAll[${i}]`, branchCols, branchIdx);
      const mine = branchCols.slice(before);
      if (!first) {
        first = mine;
        rowIndexPositions.push(...branchIdx);
      } else if (mine.map((m) => m.name).join('\u0000') !== first.map((m) => m.name).join('\u0000')) {
        throw invalid(
          `ViewDefinition${where}.unionAll[${i}]: its columns (${mine.map((m) => m.name).join(', ')}) differ from the first branch's (${first.map((m) => m.name).join(', ')})`,
        );
      }
      return node;
    });
    out.push(...(first ?? []));
  }
  const width = out.length - start;
  let iterate: Node['iterate'] = 'none';
  let foci: PathFn[] = [];
  if (s.forEach !== undefined) {
    iterate = 'forEach';
    foci = [compilePath(compiler, s.forEach)];
  } else if (s.forEachOrNull !== undefined) {
    iterate = 'forEachOrNull';
    foci = [compilePath(compiler, s.forEachOrNull)];
  } else if (s.repeat !== undefined) {
    iterate = 'repeat';
    foci = s.repeat.map((p) => compilePath(compiler, p));
  }
  const nullRow: ViewRow = new Array<unknown>(width).fill(null);
  for (const p of rowIndexPositions) if (p >= start && p < start + width) nullRow[p - start] = 0;
  return { width, iterate, foci, columns, selects, unionAll, nullRow, engine: compiler.engine, rowIndex: compiler.rowIndex };
}

/** The product of partial rows `acc` × `part` (acc's rows are owned here, so a single part row is appended in place). */
function combine(acc: ViewRow[], part: ViewRow[]): ViewRow[] {
  if (part.length === 0 || acc.length === 0) return [];
  if (part.length === 1) {
    const only = part[0] as ViewRow;
    for (const row of acc) for (let k = 0; k < only.length; k++) row.push(only[k]);
    return acc;
  }
  const next: ViewRow[] = [];
  for (const row of acc) for (const p of part) next.push(row.concat(p));
  return next;
}

function columnValue(engine: Engine, col: CompiledColumn, values: Item[]): unknown {
  if (col.collection) return values.map((v) => engine.value(v));
  if (values.length === 0) return null;
  if (values.length > 1)
    throw unprocessable(`column ${col.name}: several values where one was expected (set collection: true)`);
  return engine.value(values[0]) ?? null;
}

function focusList(node: Node, n: Item, vars: Vars): Item[] {
  switch (node.iterate) {
    case 'none':
      return [n];
    case 'forEach':
    case 'forEachOrNull':
      return (node.foci[0] as PathFn)(n, vars);
    case 'repeat': {
      const result: Item[] = [];
      const traverse = (x: Item): void => {
        for (const p of node.foci) {
          for (const c of p(x, vars)) {
            result.push(c);
            traverse(c);
          }
        }
      };
      traverse(n);
      return result;
    }
  }
}

function processNode(node: Node, n: Item, vars: Vars, parentIndex: number): ViewRow[] {
  const iterating = node.iterate !== 'none';
  const foci = iterating ? focusList(node, n, vars) : [n];
  const rows: ViewRow[] = [];
  for (let i = 0; i < foci.length; i++) {
    const f = foci[i];
    const index = iterating ? i : parentIndex;
    const indexVar = node.rowIndex ? node.engine.variable(index, 'integer') : undefined;
    if (indexVar !== undefined) vars[ROW_INDEX] = indexVar;
    // Columns first (one partial row), then the product with each select's rows, then with the unionAll's.
    const base: ViewRow = [];
    for (const col of node.columns) {
      if (col.rowIndexOnly) {
        base.push(index);
        continue;
      }
      if (col.scalar !== undefined) {
        const v = col.scalar(f);
        if (v !== SEVERAL) {
          base.push(v === undefined ? null : v);
          continue;
        }
      }
      base.push(columnValue(node.engine, col, col.path(f, vars)));
    }
    let acc: ViewRow[] = [base];
    for (const sel of node.selects) {
      acc = combine(acc, processNode(sel, f, vars, index));
      if (indexVar !== undefined) vars[ROW_INDEX] = indexVar;
    }
    if (node.unionAll) {
      const urows: ViewRow[] = [];
      for (const u of node.unionAll) {
        for (const r of processNode(u, f, vars, index)) urows.push(r);
        if (indexVar !== undefined) vars[ROW_INDEX] = indexVar;
      }
      acc = combine(acc, urows);
    }
    for (const r of acc) rows.push(r);
  }
  if (foci.length === 0 && node.iterate === 'forEachOrNull') rows.push(node.nullRow.slice());
  return rows;
}

/**
 * Validates and compiles a ViewDefinition (JSON) once; the result evaluates resources one at a time. Paths run on
 * the fast engine (src/views/fast-path.ts) when it covers all of them, else on @medplum/core's FHIRPath;
 * `engine: 'fhirpath'` forces the latter.
 */
export function compileView(input: unknown, options: { engine?: 'auto' | 'fhirpath' } = {}): CompiledView {
  const definition = parseViewDefinition(input);
  const constants = new Set((definition.constant ?? []).map((c) => c.name));
  const parsed = parsePaths(definition, constants);
  const engine = chooseEngine(parsed, options.engine ?? 'auto');
  const compiler: Compiler = { engine, parsed, rowIndex: [...parsed.keys()].some((p) => stripStrings(p).includes('%rowIndex')) };
  const constantVars: Vars = {};
  for (const c of definition.constant ?? []) {
    const { type, value } = constantValue(c);
    constantVars[`%${c.name}`] = engine.variable(value, type);
  }
  const wheres = (definition.where ?? []).map((w) => ({ source: w.path, fn: compilePath(compiler, w.path) }));
  const columns: ColumnInfo[] = [];
  const root = compileSelect({ select: definition.select, column: definition.column }, compiler, '', columns, []);
  if (columns.length === 0) throw invalid('ViewDefinition: it defines no column');
  const zero = engine.variable(0, 'integer');
  return {
    definition,
    resource: definition.resource,
    columns,
    engine: engine.name,
    rows(resource) {
      if (resource.resourceType !== definition.resource) return [];
      const item = engine.root(resource);
      const vars: Vars = { ...constantVars, '%resource': item, '%rootResource': item, [ROW_INDEX]: zero };
      for (const w of wheres) {
        const result = w.fn(item, vars);
        for (const r of result) {
          if (!engine.isBoolean(r)) throw unprocessable(`where ${JSON.stringify(w.source)} yields a value that is not a boolean`);
        }
        if (result.length !== 1 || engine.value(result[0]) !== true) return [];
      }
      return processNode(root, item, vars, 0);
    },
  };
}

/** The rows of a row as an object keyed by column name (for JSON output and the test suite). */
export function rowObject(columns: readonly ColumnInfo[], row: ViewRow): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  columns.forEach((c, i) => (o[c.name] = row[i]));
  return o;
}
