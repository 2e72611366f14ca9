import { hash } from 'node:crypto';
import type { FhirResource, PreparedResource } from './resource.js';
import { type CompartmentPaths, patientCompartment, patientCompartmentPaths } from './compartment.js';
import { REFERENCE_TYPES } from './resource-types.js';
import { extractSearchValues } from './search-values.js';

const REFERENCED = new Set<string>(REFERENCE_TYPES);
const ID_PATTERN = /^[A-Za-z0-9\-.]{1,64}$/;
const REFERENCE_IN_JSON = /"reference":"(?:[^"]*\/)?(Location|Organization|Practitioner)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^"]*)?"/g;

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
  const { resourceType, id, meta, ...rest } = resource;
  const restJson = JSON.stringify(rest);
  const metaJson = meta ? JSON.stringify(meta) : '{}';
  const head = `{"resourceType":${JSON.stringify(resourceType)},"id":${JSON.stringify(id)},"meta":{`;
  const metaInner = metaJson.length > 2 ? `,${metaJson.slice(1, -1)}` : '';
  const tail = `${metaInner}}${restJson.length > 2 ? `,${restJson.slice(1)}` : '}'}`;
  const contentHash = hash('sha1', head + tail, 'base64');
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
    // A scan of the JSON text is much faster than walking the object, and finds the same `reference` values.
    const seen = new Set<string>();
    for (const m of restJson.matchAll(REFERENCE_IN_JSON)) {
      const key = `${m[1]}/${m[2]}`;
      if (!seen.has(key)) {
        seen.add(key);
        refs.push({ type: m[1] as string, id: m[2] as string });
      }
    }
  }
  const searchValues = extractSearchValues(resource);
  return { type: resource.resourceType, id: resource.id, contentHash, patients, refs, recordedAt, template: [head, tail], ...(searchValues.length > 0 ? { searchValues } : {}) };
}

/** The last instant formatted (a batch write stamps all its rows with the same one). */
let lastStamp = { ms: Number.NaN, iso: '' };
const isoInstant = (ms: number): string => {
  if (lastStamp.ms !== ms) lastStamp = { ms, iso: new Date(ms).toISOString() };
  return lastStamp.iso;
};

/** A stored resource's JSON prepared again (compartment, references, search values); undefined when it does not parse. */
export function prepareStored(json: string | null): PreparedResource | undefined {
  let resource: FhirResource;
  try {
    resource = JSON.parse(json ?? '') as FhirResource;
  } catch {
    return undefined;
  }
  return prepareResource(resource);
}

/**
 * Of a stored version (its JSON), what its search-index rows were made of: its compartment patients and search
 * values, as `prepareResource` found them when it was written, without the rest of that work.
 */
export function storedSearchValues(json: string): Pick<PreparedResource, 'type' | 'id' | 'patients' | 'searchValues'> | undefined {
  let parsed: FhirResource;
  try {
    parsed = JSON.parse(json) as FhirResource;
  } catch {
    return undefined;
  }
  const resource = withoutServerMeta(parsed);
  return { type: resource.resourceType, id: resource.id, patients: patientCompartment(resource, compartmentPaths()), searchValues: extractSearchValues(resource) };
}

/** The exact JSON text stored and exported: the resource with `meta.versionId` and `meta.lastUpdated` set. */
export function storedJson(resource: FhirResource | PreparedResource, versionId: number, lastUpdated: number): string {
  if ('template' in resource && Array.isArray(resource.template)) {
    const [head, tail] = resource.template;
    return `${head}"versionId":"${versionId}","lastUpdated":"${isoInstant(lastUpdated)}"${tail}`;
  }
  return storedJson(prepareResource(resource as FhirResource), versionId, lastUpdated);
}

