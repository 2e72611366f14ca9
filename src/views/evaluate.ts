import { evalFhirPathTyped, parseFhirPath, toTypedValue, type TypedValue } from '@medplum/core';
import { invalid } from '../fhir/errors.js';
import { compileFastPath } from './fast-path.js';
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
  /** The rows one resource yields (none if it is of another type or fails `where`). Throws a 422 FhirError on a
   * column that yields several values without `collection: true`. */
  rows(resource: Record<string, unknown>): ViewRow[];
}

type Vars = Record<string, TypedValue>;
type PathFn = (input: TypedValue, vars: Vars) => TypedValue[];

const ROW_INDEX = '%rowIndex';
/** Environment variables FHIRPath or the view machinery define; any other %name must be a view constant. */
const BUILT_IN = new Set(['rowIndex', 'resource', 'rootResource', 'context', 'ucum', 'sct', 'loinc', 'profile']);

function stripStrings(path: string): string {
  return path.replace(/'(?:[^'\\]|\\.)*'|`(?:[^`\\]|\\.)*`/g, "''");
}

function compilePath(path: string, constants: ReadonlySet<string>, where: string): PathFn {
  for (const m of stripStrings(path).matchAll(/%([A-Za-z_][A-Za-z0-9_]*)/g)) {
    const name = m[1] as string;
    if (!BUILT_IN.has(name) && !constants.has(name))
      throw invalid(`ViewDefinition${where}: %${name} is not a constant of the view`);
  }
  const fast = compileFastPath(path);
  if (fast) return fast;
  let atom;
  try {
    atom = parseFhirPath(path);
  } catch (err) {
    throw invalid(`ViewDefinition${where}: invalid FHIRPath ${JSON.stringify(path)}: ${(err as Error).message}`);
  }
  return (input, vars) => {
    try {
      return evalFhirPathTyped(atom, [input], vars);
    } catch (err) {
      throw unprocessable(`FHIRPath ${JSON.stringify(path)} failed: ${(err as Error).message}`);
    }
  };
}

interface CompiledColumn {
  name: string;
  path: PathFn;
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
}

function constantValue(c: Record<string, unknown>): TypedValue {
  const key = Object.keys(c).find((k) => k.startsWith('value')) as string;
  const t = key.slice(5);
  const type = t.charAt(0).toLowerCase() + t.slice(1);
  return { type, value: c[key] };
}

function compileSelect(
  s: ViewSelect,
  constants: ReadonlySet<string>,
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
      path: compilePath(c.path, constants, `${where}.column[${i}].path`),
      collection: c.collection === true,
      rowIndexOnly,
    });
  });
  const selects = (s.select ?? []).map((sub, i) =>
    compileSelect(sub, constants, `${where}.select[${i}]`, out, rowIndexPositions),
  );
  let unionAll: Node[] | undefined;
  if (s.unionAll) {
    const before = out.length;
    let first: ColumnInfo[] | undefined;
    unionAll = s.unionAll.map((u, i) => {
      const branchCols = out.slice(0, before);
      const branchIdx: number[] = [];
      const node = compileSelect(u, constants, `${where}.unionAll[${i}]`, branchCols, branchIdx);
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
    foci = [compilePath(s.forEach, constants, `${where}.forEach`)];
  } else if (s.forEachOrNull !== undefined) {
    iterate = 'forEachOrNull';
    foci = [compilePath(s.forEachOrNull, constants, `${where}.forEachOrNull`)];
  } else if (s.repeat !== undefined) {
    iterate = 'repeat';
    foci = s.repeat.map((p, i) => compilePath(p, constants, `${where}.repeat[${i}]`));
  }
  const nullRow: ViewRow = new Array<unknown>(width).fill(null);
  for (const p of rowIndexPositions) if (p >= start && p < start + width) nullRow[p - start] = 0;
  return { width, iterate, foci, columns, selects, unionAll, nullRow };
}

function cartesian(parts: ViewRow[][]): ViewRow[] {
  let acc: ViewRow[] = [[]];
  for (const part of parts) {
    if (part.length === 0) return [];
    if (part.length === 1) {
      const only = part[0] as ViewRow;
      for (const row of acc) for (const v of only) row.push(v);
      continue;
    }
    const next: ViewRow[] = [];
    for (const row of acc) for (const p of part) next.push(row.concat(p));
    acc = next;
  }
  return acc;
}

function columnValue(col: CompiledColumn, values: TypedValue[]): unknown {
  if (col.collection) return values.map((v) => v.value);
  if (values.length === 0) return null;
  if (values.length > 1)
    throw unprocessable(`column ${col.name}: several values where one was expected (set collection: true)`);
  return (values[0] as TypedValue).value ?? null;
}

function focusList(node: Node, n: TypedValue, vars: Vars): TypedValue[] {
  switch (node.iterate) {
    case 'none':
      return [n];
    case 'forEach':
    case 'forEachOrNull':
      return (node.foci[0] as PathFn)(n, vars);
    case 'repeat': {
      const result: TypedValue[] = [];
      const traverse = (x: TypedValue): void => {
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

function processNode(node: Node, n: TypedValue, vars: Vars, parentIndex: TypedValue): ViewRow[] {
  const iterating = node.iterate !== 'none';
  const foci = focusList(node, n, vars);
  const rows: ViewRow[] = [];
  for (let i = 0; i < foci.length; i++) {
    const f = foci[i] as TypedValue;
    const index = iterating ? { type: 'integer', value: i } : parentIndex;
    vars[ROW_INDEX] = index;
    const parts: ViewRow[][] = [];
    for (const col of node.columns) {
      parts.push([[col.rowIndexOnly ? index.value : columnValue(col, col.path(f, vars))]]);
    }
    for (const sel of node.selects) {
      parts.push(processNode(sel, f, vars, index));
      vars[ROW_INDEX] = index;
    }
    if (node.unionAll) {
      const urows: ViewRow[] = [];
      for (const u of node.unionAll) {
        for (const r of processNode(u, f, vars, index)) urows.push(r);
        vars[ROW_INDEX] = index;
      }
      parts.push(urows);
    }
    for (const r of cartesian(parts)) rows.push(r);
  }
  if (foci.length === 0 && node.iterate === 'forEachOrNull') rows.push(node.nullRow.slice());
  return rows;
}

/** Validates and compiles a ViewDefinition (JSON) once; the result evaluates resources one at a time. */
export function compileView(input: unknown): CompiledView {
  const definition = parseViewDefinition(input);
  const constantVars: Vars = {};
  for (const c of definition.constant ?? []) constantVars[`%${c.name}`] = constantValue(c);
  const constants = new Set((definition.constant ?? []).map((c) => c.name));
  const wheres = (definition.where ?? []).map((w, i) => ({
    source: w.path,
    fn: compilePath(w.path, constants, `.where[${i}].path`),
  }));
  const columns: ColumnInfo[] = [];
  const root = compileSelect(
    { select: definition.select, column: definition.column },
    constants,
    '',
    columns,
    [],
  );
  if (columns.length === 0) throw invalid('ViewDefinition: it defines no column');
  const zero: TypedValue = { type: 'integer', value: 0 };
  return {
    definition,
    resource: definition.resource,
    columns,
    rows(resource) {
      if (resource.resourceType !== definition.resource) return [];
      const typed = toTypedValue(resource);
      const vars: Vars = { ...constantVars, '%resource': typed, '%rootResource': typed, [ROW_INDEX]: zero };
      for (const w of wheres) {
        const result = w.fn(typed, vars);
        for (const r of result) {
          if (r.type !== 'boolean' && typeof r.value !== 'boolean')
            throw unprocessable(`where ${JSON.stringify(w.source)} yields a ${r.type}, not a boolean`);
        }
        if (result.length !== 1 || result[0]?.value !== true) return [];
      }
      return processNode(root, typed, vars, zero);
    },
  };
}

/** The rows of a row as an object keyed by column name (for JSON output and the test suite). */
export function rowObject(columns: readonly ColumnInfo[], row: ViewRow): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  columns.forEach((c, i) => (o[c.name] = row[i]));
  return o;
}
