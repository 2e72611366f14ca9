import { createHash } from 'node:crypto';
import type { FhirResource, PreparedResource } from '../store/ports.js';
import { type CompartmentPaths, patientCompartment, patientCompartmentPaths, referencedId } from './compartment.js';
import { REFERENCE_TYPES } from './resource-types.js';

const REFERENCED = new Set<string>(REFERENCE_TYPES);
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;

/**
 * Resource types whose patient link the R4 Patient CompartmentDefinition leaves out but which a patient-level
 * export must carry (the vendor exports Device per patient).
 */
const EXTRA_COMPARTMENT_PATHS: [string, string[]][] = [['Device', ['patient']]];

let paths: CompartmentPaths | undefined;
function compartmentPaths(): CompartmentPaths {
  if (!paths) {
    paths = new Map(patientCompartmentPaths());
    for (const [type, path] of EXTRA_COMPARTMENT_PATHS) paths.set(type, [...(paths.get(type) ?? []), path]);
  }
  return paths;
}

export const isValidId = (id: unknown): id is string => typeof id === 'string' && ID_PATTERN.test(id);

/** Every `reference` string anywhere in a resource. */
function collectReferences(node: unknown, out: string[]): void {
  if (Array.isArray(node)) {
    for (const item of node) collectReferences(item, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key === 'reference' && typeof value === 'string') out.push(value);
      else if (typeof value === 'object') collectReferences(value, out);
    }
  }
}

function splitReference(reference: string): { type: string; id: string } | undefined {
  const m = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference);
  return m ? { type: m[1] as string, id: m[2] as string } : undefined;
}

/** The resource without the server-assigned meta fields, as stored (before they are filled in again). */
export function withoutServerMeta(resource: FhirResource): FhirResource {
  if (!resource.meta) return resource;
  const { versionId: _v, lastUpdated: _l, ...rest } = resource.meta;
  const copy: FhirResource = { ...resource };
  if (Object.keys(rest).length > 0) copy.meta = rest;
  else delete copy.meta;
  return copy;
}

/** Computes what the store keeps beside a resource: content hash, compartment patients, followed references. */
export function prepareResource(input: FhirResource): PreparedResource {
  const resource = withoutServerMeta(input);
  const contentHash = createHash('sha1').update(JSON.stringify(resource)).digest('base64');
  const patients = patientCompartment(resource, compartmentPaths());
  const refs: { type: string; id: string }[] = [];
  let recordedAt: number | null = null;
  if (resource.resourceType === 'Provenance') {
    const targets: string[] = [];
    collectReferences(resource['target'], targets);
    for (const t of targets) {
      const ref = splitReference(t);
      if (ref) refs.push(ref);
    }
    const recorded = resource['recorded'];
    if (typeof recorded === 'string') {
      const ms = Date.parse(recorded);
      if (!Number.isNaN(ms)) recordedAt = ms;
    }
  } else if (!REFERENCED.has(resource.resourceType)) {
    const all: string[] = [];
    collectReferences(resource, all);
    const seen = new Set<string>();
    for (const reference of all) {
      const ref = splitReference(reference);
      if (!ref || !REFERENCED.has(ref.type)) continue;
      const key = `${ref.type}/${ref.id}`;
      if (!seen.has(key)) {
        seen.add(key);
        refs.push(ref);
      }
    }
  }
  return { type: resource.resourceType, id: resource.id, resource, contentHash, patients, refs, recordedAt };
}

/** The exact JSON text stored and exported: the resource with `meta.versionId` and `meta.lastUpdated` set. */
export function storedJson(resource: FhirResource, versionId: number, lastUpdated: number): string {
  const meta = { ...(resource.meta ?? {}), versionId: String(versionId), lastUpdated: new Date(lastUpdated).toISOString() };
  const out: Record<string, unknown> = { resourceType: resource.resourceType, id: resource.id, meta };
  for (const [k, v] of Object.entries(resource)) {
    if (k !== 'resourceType' && k !== 'id' && k !== 'meta') out[k] = v;
  }
  return JSON.stringify(out);
}

export { referencedId };
