import type { FhirResource } from './resource.js';
import { readDefinition } from './known-types.js';

interface CompartmentDefinition {
  resource: { code: string; param?: string[] }[];
}
interface SearchParameterBundle {
  entry: { resource: { code: string; base: string[]; expression?: string } }[];
}

/** Element paths (below the resource) holding references that place a resource in a Patient compartment. */
export type CompartmentPaths = Map<string, string[][]>;

let cachedPaths: CompartmentPaths | undefined;

/**
 * Reads the FHIR R4 Patient CompartmentDefinition and turns each of its search parameters into element paths,
 * e.g. Observation → [["subject"], ["performer"]]. `.where(resolve() is Patient)` and similar filters are
 * dropped: only references to `Patient/…` are taken anyway.
 */
export function patientCompartmentPaths(): CompartmentPaths {
  if (cachedPaths) return cachedPaths;
  const def = readDefinition<CompartmentDefinition>('compartmentdefinition-patient.json');
  const params = readDefinition<SearchParameterBundle>('search-parameters.json');
  const expressions = new Map<string, string>();
  for (const { resource } of params.entry) {
    for (const base of resource.base) {
      if (resource.expression) expressions.set(`${base}.${resource.code}`, resource.expression);
    }
  }
  const result: CompartmentPaths = new Map();
  for (const entry of def.resource) {
    const paths: string[][] = [];
    for (const param of entry.param ?? []) {
      if (param === '{def}') continue;
      const expression = expressions.get(`${entry.code}.${param}`);
      if (!expression) continue;
      for (const alternative of expression.split('|')) {
        const clean = alternative
          .trim()
          .replace(/\.where\((?:[^()]|\([^()]*\))*\)/g, '')
          .replace(/^\(|\)$/g, '')
          .replace(/\s+as\s+\w+$/, '');
        const parts = clean.split('.');
        if (parts[0] !== entry.code) continue;
        const path = parts.slice(1).map((p) => p.replace(/\s+as\s+\w+$/, ''));
        if (path.length > 0 && !paths.some((p) => p.join('.') === path.join('.'))) paths.push(path);
      }
    }
    if (paths.length > 0) result.set(entry.code, paths);
  }
  cachedPaths = result;
  return result;
}

/** Collects every `reference` string found at `path` below `node` (arrays are walked). */
export function referencesAt(node: unknown, path: readonly string[], out: string[], start = 0): void {
  if (node === null || node === undefined) return;
  if (Array.isArray(node)) {
    for (const item of node) referencesAt(item, path, out, start);
    return;
  }
  if (typeof node !== 'object') return;
  const obj = node as Record<string, unknown>;
  if (start === path.length) {
    const ref = obj['reference'];
    if (typeof ref === 'string') out.push(ref);
    return;
  }
  const key = path[start] as string;
  referencesAt(obj[key], path, out, start + 1);
}

/** Extracts `id` from a relative (`Patient/123`), versioned or absolute (`http://…/Patient/123`) reference. */
export function referencedId(reference: string, type: string): string | undefined {
  const withoutVersion = reference.replace(/\/_history\/[^/]+$/, '');
  const marker = `${type}/`;
  const at = withoutVersion.lastIndexOf(marker);
  if (at < 0) return undefined;
  if (at > 0 && withoutVersion[at - 1] !== '/') return undefined;
  const id = withoutVersion.slice(at + marker.length);
  return /^[A-Za-z0-9\-.]{1,64}$/.test(id) ? id : undefined;
}

/** The ids of the patients whose compartment holds `resource`. A Patient is in its own compartment. */
export function patientCompartment(resource: FhirResource, paths: CompartmentPaths = patientCompartmentPaths()): string[] {
  const ids = new Set<string>();
  if (resource.resourceType === 'Patient') ids.add(resource.id);
  const typePaths = paths.get(resource.resourceType);
  if (typePaths) {
    const refs: string[] = [];
    for (const path of typePaths) referencesAt(resource, path, refs);
    for (const ref of refs) {
      const id = referencedId(ref, 'Patient');
      if (id) ids.add(id);
    }
  }
  return [...ids];
}
