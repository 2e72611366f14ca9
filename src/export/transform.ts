import { readDefinition } from '../fhir/known-types.js';

/** The tag of a resource subsetted by `_elements`: exactly this Coding (testers compare it whole). */
export const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** Attachment content types DocumentReference and DiagnosticReport keep, as the vendor docs say. */
export const KEPT_ATTACHMENT_TYPES = ['text/xml', 'text/html', 'application/xhtml+xml'];

let mandatory: Map<string, string[]> | undefined;

/** Top-level elements with a minimum cardinality of 1 in the base R4 definition of each resource type. */
export function mandatoryElements(type: string): string[] {
  if (!mandatory) {
    mandatory = new Map();
    const bundle = readDefinition<{
      entry: { resource: { resourceType: string; kind?: string; type?: string; snapshot?: { element: { path: string; min?: number }[] } } }[];
    }>('profiles-resources.json');
    for (const { resource } of bundle.entry) {
      if (resource.resourceType !== 'StructureDefinition' || resource.kind !== 'resource' || !resource.type) continue;
      const names = (resource.snapshot?.element ?? [])
        .filter((e) => (e.min ?? 0) >= 1 && e.path.split('.').length === 2)
        .map((e) => (e.path.split('.')[1] as string).replace('[x]', ''));
      mandatory.set(resource.type, names);
    }
  }
  return mandatory.get(type) ?? [];
}

export interface TransformContext {
  /** The tenant's FHIR base, for absolute Binary URLs. */
  fhirBase: string;
  elements?: string[];
}

/** Builds the per-type transform, or null when rows are copied as stored. */
export async function transformFor(
  type: string,
  options: { fhirBase: string; elements?: string[]; typeFilters?: string[] },
): Promise<((json: string) => string | null) | null> {
  const queries = options.typeFilters ?? [];
  // FHIR search evaluation (@medplum/core and the R4 definitions) is loaded only by exports that filter.
  const search = queries.length > 0 ? await import('../fhir/search-filter.js') : undefined;
  const filters = search ? search.compileTypeFilters(queries) : [];
  const matchesAny = search?.matchesAny;
  const attachments = type === 'DocumentReference' || type === 'DiagnosticReport';
  const elements = selectedElements(type, options.elements);
  if (filters.length === 0 && !attachments && !elements) return null;
  return (json: string): string | null => {
    if (attachments && filters.length === 0 && !elements) {
      const fast = attachmentsFastPath(json, options.fhirBase);
      if (fast !== undefined) return fast;
    }
    const resource = JSON.parse(json) as Record<string, unknown>;
    if (matchesAny && !matchesAny(resource, filters)) return null;
    if (attachments && !keepAttachments(resource, options.fhirBase)) return null;
    return JSON.stringify(elements ? subset(resource, elements) : resource);
  };
}

const CONTENT_TYPE = /"contentType":"([^"]*)"/g;

/**
 * The attachment rules on the JSON text, when nothing needs removing: every attachment already has an allowed
 * content type and no inline data, so only relative Binary URLs become absolute. Undefined means "parse it".
 */
function attachmentsFastPath(json: string, fhirBase: string): string | undefined {
  if (json.includes('"data":')) return undefined;
  let any = false;
  for (const m of json.matchAll(CONTENT_TYPE)) {
    any = true;
    if (!KEPT_ATTACHMENT_TYPES.includes(((m[1] as string).split(';')[0] ?? '').trim().toLowerCase())) return undefined;
  }
  if (!any) return json.startsWith('{"resourceType":"DiagnosticReport"') ? json : undefined;
  return json.replaceAll('"url":"Binary/', `"url":"${fhirBase}/Binary/`);
}

/** The element names kept for a type, or undefined when `_elements` does not apply to it. */
function selectedElements(type: string, elements: string[] | undefined): Set<string> | undefined {
  if (!elements || elements.length === 0) return undefined;
  const names = new Set<string>();
  let applies = false;
  for (const e of elements) {
    const dot = e.indexOf('.');
    if (dot < 0) {
      names.add(e.replace('[x]', ''));
      applies = true;
    } else if (e.slice(0, dot) === type) {
      names.add(e.slice(dot + 1).replace('[x]', ''));
      applies = true;
    }
  }
  if (!applies) return undefined;
  for (const m of mandatoryElements(type)) names.add(m);
  return names;
}

function subset(resource: Record<string, unknown>, names: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = { resourceType: resource['resourceType'], id: resource['id'] };
  const meta = { ...((resource['meta'] as Record<string, unknown> | undefined) ?? {}) };
  const tags = Array.isArray(meta['tag']) ? [...(meta['tag'] as unknown[])] : [];
  tags.push(SUBSETTED);
  meta['tag'] = tags;
  out['meta'] = meta;
  for (const [k, v] of Object.entries(resource)) {
    if (k === 'resourceType' || k === 'id' || k === 'meta') continue;
    // choice elements: value[x] keeps valueQuantity, valueString, …
    const base = names.has(k) || [...names].some((n) => k.startsWith(n) && /^[A-Z]/.test(k.slice(n.length)));
    if (base) out[k] = v;
  }
  return out;
}

function keepAttachment(att: unknown, fhirBase: string): Record<string, unknown> | null {
  if (!att || typeof att !== 'object') return null;
  const a = { ...(att as Record<string, unknown>) };
  const ct = typeof a['contentType'] === 'string' ? (a['contentType'].split(';')[0] ?? '').trim().toLowerCase() : '';
  if (!KEPT_ATTACHMENT_TYPES.includes(ct)) return null;
  const url = a['url'];
  if (typeof url === 'string') {
    const m = /^(?:.*\/)?Binary\/([A-Za-z0-9\-.]{1,64})$/.exec(url);
    if (m) a['url'] = `${fhirBase}/Binary/${m[1]}`;
  }
  // Inline data is moved to a Binary at import; anything still inline is not sent in bulk files.
  if ('data' in a) delete a['data'];
  if (typeof a['url'] !== 'string') return null;
  return a;
}

/**
 * Applies the attachment rules in place: only text/xml, text/html and application/xhtml+xml attachments stay,
 * each with an absolute URL to [base]/Binary/{id}. Returns false when a DocumentReference keeps no content
 * (content is required), so it is left out.
 */
function keepAttachments(resource: Record<string, unknown>, fhirBase: string): boolean {
  if (resource['resourceType'] === 'DocumentReference') {
    const content = Array.isArray(resource['content']) ? (resource['content'] as Record<string, unknown>[]) : [];
    const kept = content
      .map((c) => {
        const att = keepAttachment(c?.['attachment'], fhirBase);
        return att ? { ...c, attachment: att } : null;
      })
      .filter((c) => c !== null);
    if (kept.length === 0) return false;
    resource['content'] = kept;
    return true;
  }
  if (Array.isArray(resource['presentedForm'])) {
    const kept = (resource['presentedForm'] as unknown[]).map((a) => keepAttachment(a, fhirBase)).filter((a) => a !== null);
    if (kept.length > 0) resource['presentedForm'] = kept;
    else delete resource['presentedForm'];
  }
  return true;
}
