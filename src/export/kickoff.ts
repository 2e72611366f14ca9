import { createHash } from 'node:crypto';
import type { Caller } from '../auth/access.js';
import { forbidden, invalid, notAcceptable, unsupportedMediaType } from '../fhir/errors.js';
import { parseInstant } from '../fhir/instant.js';
import { isFhirResourceType } from '../fhir/known-types.js';
import { EXPORT_TYPES, isClinicalType } from '../fhir/resource-types.js';
import { parseTypeFilter } from '../fhir/search-filter.js';
import type { ExportKind } from '../store/ports.js';

export const OUTPUT_FORMATS = ['application/fhir+ndjson', 'application/ndjson', 'ndjson'];
const ASSOCIATED = ['LatestProvenanceResources', 'RelevantProvenanceResources'];

/** The validated parameters of an export, as stored with the job. */
export interface ExportParams {
  kind: ExportKind;
  groupId?: string;
  types: string[];
  outputFormat: string;
  since?: number;
  /** `_until` as given (the snapshot is min(_until, transactionTime)). */
  until?: number;
  typeFilters: Record<string, string[]>;
  elements?: string[];
  provenance: 'relevant' | 'latest' | null;
  /** Patients given with `patient` (POST), before membership checks. */
  patients?: string[];
  /** What lenient handling ignored: reported in the manifest's error files. */
  warnings: string[];
  /** The tenant's FHIR base as the client addressed it (absolute Binary URLs in attachments). */
  fhirBase?: string;
  /** `Prefer: separate-export-status`: status answers 200 with the job's status in `X-Export-Status`. */
  separateStatus?: boolean;
  /** `allowPartialManifests=true`: manifest pages while the job runs, and the file list split over pages. */
  allowPartialManifests?: boolean;
  /** `_maximumFileSize` (STU4), within the server's bounds: no output or deleted file is larger. */
  maxFileSize?: number;
  /** `_minimumFileSize` (STU4), as accepted (a hint: files are filled to the maximum before the next begins). */
  minFileSize?: number;
  /** An $sql-export job: the ViewDefinitions its chunks evaluate (shape owned by src/views/export-job.ts). */
  views?: unknown;
  /** The group as the export reads it (version at the snapshot, active members), for the manifest's extension. */
  group?: { versionId: number; members: number };
  /** `organizeOutputBy`: output as blocks of each patient's resources. */
  organizeOutputBy?: 'Patient';
}

export interface KickoffInput {
  kind: ExportKind;
  method: string;
  groupId?: string;
  query: Record<string, string | string[] | undefined>;
  body?: unknown;
  headers: { accept?: string; prefer?: string; contentType?: string };
  caller: Caller;
  now: number;
  maxPatients: number;
  /** The server's largest output file, the upper bound of `_maximumFileSize`. */
  maxFileBytes: number;
}

/** The smallest `_maximumFileSize` accepted: room for any resource line and a Bundle of deletions. */
export const MIN_MAXIMUM_FILE_SIZE = 64 * 1024;

const asList = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The Prefer header's preferences (RFC 7240: comma-separated, or the header repeated, which Node joins with commas). */
export function parsePrefer(prefer: string | undefined): { async: boolean; lenient: boolean; separateStatus: boolean } {
  const tokens = (prefer ?? '')
    .split(/[,;]/)
    .map((t) => t.trim().toLowerCase().replace(/\s+/g, ''));
  return {
    async: tokens.includes('respond-async'),
    lenient: tokens.includes('handling=lenient'),
    separateStatus: tokens.includes('separate-export-status'),
  };
}

function acceptable(accept: string): boolean {
  return accept
    .split(',')
    .map((a) => a.split(';')[0]?.trim().toLowerCase() ?? '')
    // The IG: "currently, only application/fhir+json is supported"; plain application/json is refused.
    .some((a) => a === 'application/fhir+json' || a === '*/*' || a === 'application/*');
}

/** An integer64 is a JSON string of digits. */
const k64 = (v: unknown): boolean => typeof v === 'string' && /^-?\d+$/.test(v);

/** Reads the parameters of a POSTed Parameters resource into name → values. */
function parametersBody(body: unknown): { params: Map<string, string[]>; patients: string[] } {
  const params = new Map<string, string[]>();
  const patients: string[] = [];
  if (body === undefined || body === null || body === '') return { params, patients };
  if (typeof body !== 'object' || Array.isArray(body) || (body as { resourceType?: unknown }).resourceType !== 'Parameters') {
    throw invalid('The request body must be a FHIR Parameters resource.');
  }
  const list = (body as { parameter?: unknown }).parameter ?? [];
  if (!Array.isArray(list)) throw invalid('Parameters.parameter must be an array.');
  for (const p of list as Record<string, unknown>[]) {
    if (!p || typeof p !== 'object' || typeof p['name'] !== 'string') throw invalid('Each Parameters.parameter needs a name.');
    const name = p['name'];
    if (name === 'patient') {
      const ref = (p['valueReference'] as { reference?: unknown } | undefined)?.reference;
      if (typeof ref !== 'string') throw invalid('Each patient parameter needs a valueReference with a reference.');
      const m = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(ref);
      if (!m) throw invalid(`patient reference "${ref}" is not a Patient reference.`);
      patients.push(m[1] as string);
      continue;
    }
    let value = ['valueString', 'valueCode', 'valueInstant', 'valueDateTime', 'valueUri', 'valueCanonical']
      .map((k) => p[k])
      .find((v) => typeof v === 'string') as string | undefined;
    if (value === undefined) {
      const scalar = ['valueBoolean', 'valueInteger', 'valueInteger64', 'valueDecimal', 'valuePositiveInt', 'valueUnsignedInt']
        .map((k) => p[k])
        .find((v) => typeof v === 'boolean' || typeof v === 'number' || (k64(v)));
      if (scalar !== undefined) value = String(scalar);
    }
    // STU4 sends includeAssociatedData as a Coding.
    const coding = p['valueCoding'] as { code?: unknown } | undefined;
    if (value === undefined && coding && typeof coding === 'object' && typeof coding.code === 'string') value = coding.code;
    if (value === undefined) throw invalid(`Parameter ${name} needs a value (valueString, valueCode, valueBoolean, valueInteger or valueCoding).`);
    params.set(name, [...(params.get(name) ?? []), value]);
  }
  return { params, patients };
}

/** An instant parameter: a FHIR instant that exists on the calendar (2024-02-30 does not). */
function instantParam(name: string, value: string): number {
  const ms = parseInstant(value);
  if (ms === undefined) throw invalid(`${name} "${value}" is not a valid FHIR instant (e.g. 2024-01-01T00:00:00Z, a real date and time with a zone).`);
  return ms;
}

/** Validates a kick-off request as conformance.md says; throws a FhirError for anything refused. */
export function parseKickoff(input: KickoffInput): ExportParams {
  // The IG lets a server refuse a kick-off without Accept; conformance suites expect it to.
  if (input.headers.accept === undefined || input.headers.accept.trim() === '') throw invalid('The Accept header is required: send Accept: application/fhir+json.');
  if (!acceptable(input.headers.accept)) throw notAcceptable(`Accept "${input.headers.accept}" is not supported: use application/fhir+json.`);
  const prefer = parsePrefer(input.headers.prefer);
  if (!prefer.async) throw invalid('The Prefer header must include respond-async.');
  const lenient = prefer.lenient;
  const warnings: string[] = [];
  const reject = (message: string): void => {
    if (!lenient) throw invalid(message);
    warnings.push(`${message} (ignored: Prefer handling=lenient)`);
  };

  let params = new Map<string, string[]>();
  let patients: string[] | undefined;
  if (input.method === 'POST') {
    const ct = (input.headers.contentType ?? '').split(';')[0]?.trim().toLowerCase();
    if (input.body !== undefined && ct !== 'application/fhir+json' && ct !== 'application/json') {
      throw unsupportedMediaType(`Content-Type "${input.headers.contentType}" is not supported: send application/fhir+json.`);
    }
    const parsed = parametersBody(input.body);
    params = parsed.params;
    if (parsed.patients.length > 0) patients = parsed.patients;
    for (const [k, v] of Object.entries(input.query)) if (v !== undefined) params.set(k, [...(params.get(k) ?? []), ...asList(v)]);
  } else {
    for (const [k, v] of Object.entries(input.query)) if (v !== undefined) params.set(k, asList(v));
  }

  const known = new Set(['_outputFormat', '_type', '_since', '_until', '_typeFilter', '_elements', 'includeAssociatedData', 'allowPartialManifests', 'organizeOutputBy', '_maximumFileSize', '_minimumFileSize']);
  for (const name of params.keys()) {
    if (name === 'patient') {
      reject('The patient parameter is only accepted in a POST Parameters body.');
    } else if (!known.has(name)) {
      reject(`Unknown or unsupported parameter "${name}".`);
    }
  }
  if (patients && input.kind === 'system') {
    reject('The patient parameter is not supported for a system-level export.');
    patients = undefined;
  }
  if (patients) {
    if (patients.length > input.maxPatients) {
      throw invalid(`At most ${input.maxPatients} patients may be listed in one export; ${patients.length} were given.`);
    }
    patients = [...new Set(patients)].sort();
  }

  const single = (name: string): string | undefined => {
    const values = params.get(name);
    if (!values || values.length === 0) return undefined;
    if (values.length > 1) throw invalid(`${name} may be given only once.`);
    return values[0];
  };

  const outputFormat = single('_outputFormat') ?? 'application/fhir+ndjson';
  if (!OUTPUT_FORMATS.includes(outputFormat)) {
    throw invalid(`_outputFormat "${outputFormat}" is not supported: use ${OUTPUT_FORMATS.join(', ')}.`);
  }

  // _type: comma lists, repeatable.
  const typeValues = params.get('_type') ?? [];
  const requested = typeValues.flatMap((v) => v.split(',')).map((t) => t.trim()).filter(Boolean);
  if (typeValues.length > 0 && requested.length === 0) reject('_type is empty.');
  let types: string[];
  if (requested.length > 0) {
    types = [];
    for (const t of requested) {
      if (types.includes(t)) continue;
      if (!EXPORT_TYPES.includes(t)) {
        const why = isFhirResourceType(t) ? `Resource type ${t} is not supported for export.` : `Unknown resource type "${t}" in _type.`;
        reject(why);
        continue;
      }
      types.push(t);
    }
    if (types.length === 0) throw invalid('_type names no exportable resource type.');
    if (!types.some(isClinicalType)) {
      throw invalid(
        'Location, Organization, Practitioner and Provenance can only be exported together with at least one clinical resource type.',
      );
    }
    const denied = types.filter((t) => !input.caller.canRead(t));
    if (denied.length > 0) throw forbidden(`The access token does not grant read access to: ${denied.join(', ')}.`);
  } else {
    types = EXPORT_TYPES.filter((t) => input.caller.canRead(t));
    if (!types.some(isClinicalType)) {
      throw forbidden('The access token grants read access to no clinical resource type.');
    }
  }

  const sinceValue = single('_since');
  const since = sinceValue === undefined ? undefined : instantParam('_since', sinceValue);
  if (since !== undefined && since > input.now) throw invalid(`_since "${sinceValue}" is in the future.`);
  const untilValue = single('_until');
  let until: number | undefined;
  if (untilValue !== undefined) {
    until = Math.min(instantParam('_until', untilValue), input.now);
    if (since !== undefined && until < since) throw invalid('_until must not be before _since.');
  }

  // _typeFilter: repeatable; a comma separates queries only where the next one starts with a type.
  const typeFilters: Record<string, string[]> = {};
  const dropped = new Set<string>();
  for (const raw of params.get('_typeFilter') ?? []) {
    for (const query of raw.split(/,(?=[A-Z][A-Za-z]+\?)/)) {
      const parsed = parseTypeFilter(query.trim());
      if ('error' in parsed) {
        reject(parsed.error);
        const t = query.split('?')[0] ?? '';
        dropped.add(t);
        continue;
      }
      const t = parsed.filter.type;
      if (!types.includes(t)) {
        reject(`_typeFilter "${query}" is for ${t}, which this export does not include.`);
        continue;
      }
      (typeFilters[t] ??= []).push(parsed.filter.query);
    }
  }
  // Dropping one of several OR'ed filters would narrow the result silently: a type with any unusable filter is left unfiltered.
  for (const t of dropped) delete typeFilters[t];

  let elements: string[] | undefined;
  const elementValues = (params.get('_elements') ?? []).flatMap((v) => v.split(',')).map((e) => e.trim()).filter(Boolean);
  if (elementValues.length > 0) {
    elements = [];
    for (const e of elementValues) {
      const m = /^(?:([A-Z][A-Za-z]+)\.)?([a-z][A-Za-z0-9]*(?:\[x\])?)$/.exec(e);
      if (!m) {
        reject(`_elements value "${e}" is not of the form element or Type.element.`);
        continue;
      }
      if (m[1] && !EXPORT_TYPES.includes(m[1])) {
        reject(`_elements value "${e}" names a type that is not exported.`);
        continue;
      }
      elements.push(e);
    }
    if (elements.length === 0) elements = undefined;
  }

  let provenance: ExportParams['provenance'] = types.includes('Provenance') ? 'relevant' : null;
  const associated = (params.get('includeAssociatedData') ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
  if (associated.length > 0) {
    const valid = associated.filter((v) => ASSOCIATED.includes(v));
    for (const v of associated) if (!ASSOCIATED.includes(v)) reject(`includeAssociatedData value "${v}" is not supported.`);
    if (valid.length > 0) {
      if (!types.includes('Provenance')) {
        if (requested.length > 0) throw invalid('includeAssociatedData requires _type to include Provenance.');
        throw forbidden('includeAssociatedData requires read access to Provenance.');
      }
      // Both given: the least restrictive wins.
      provenance = valid.includes('RelevantProvenanceResources') ? 'relevant' : 'latest';
    }
  }

  const partialValue = single('allowPartialManifests');
  let allowPartialManifests = false;
  if (partialValue !== undefined) {
    const v = partialValue.trim().toLowerCase();
    if (v === 'true') allowPartialManifests = true;
    else if (v !== 'false') reject(`allowPartialManifests "${partialValue}" is not a boolean (true or false).`);
  }

  const organizeValue = single('organizeOutputBy');
  let organizeOutputBy: 'Patient' | undefined;
  if (organizeValue !== undefined) {
    if (organizeValue.trim() === 'Patient') organizeOutputBy = 'Patient';
    else reject(`organizeOutputBy "${organizeValue}" is not supported: output can be organized by Patient only.`);
  }

  const bytesParam = (name: string): number | undefined => {
    const value = single(name);
    if (value === undefined) return undefined;
    if (!/^\d{1,15}$/.test(value.trim())) {
      reject(`${name} "${value}" is not a whole number of bytes.`);
      return undefined;
    }
    return Number(value.trim());
  };
  let maxFileSize = bytesParam('_maximumFileSize');
  if (maxFileSize !== undefined && maxFileSize < MIN_MAXIMUM_FILE_SIZE) {
    reject(`_maximumFileSize ${maxFileSize} is below the smallest accepted, ${MIN_MAXIMUM_FILE_SIZE} bytes.`);
    maxFileSize = undefined;
  }
  // Above the server's own bound: files stay within the server's bound, so within the client's too.
  if (maxFileSize !== undefined) maxFileSize = Math.min(maxFileSize, input.maxFileBytes);
  let minFileSize = bytesParam('_minimumFileSize');
  if (minFileSize !== undefined && minFileSize > (maxFileSize ?? input.maxFileBytes)) {
    reject(`_minimumFileSize ${minFileSize} is above the largest file size, ${maxFileSize ?? input.maxFileBytes} bytes.`);
    minFileSize = undefined;
  }

  const result: ExportParams = { kind: input.kind, types, outputFormat, typeFilters, provenance, warnings };
  if (allowPartialManifests) result.allowPartialManifests = true;
  if (maxFileSize !== undefined) result.maxFileSize = maxFileSize;
  if (minFileSize !== undefined) result.minFileSize = minFileSize;
  if (organizeOutputBy) result.organizeOutputBy = organizeOutputBy;
  if (input.groupId) result.groupId = input.groupId;
  if (since !== undefined) result.since = since;
  if (until !== undefined) result.until = until;
  if (elements) result.elements = elements;
  if (patients) result.patients = patients;
  if (prefer.separateStatus) result.separateStatus = true;
  return result;
}

/** A fingerprint of what was asked (not how), for duplicate-request rejection. */
export function requestFingerprint(p: ExportParams): string {
  const canonical = JSON.stringify({
    kind: p.kind,
    groupId: p.groupId ?? null,
    types: [...p.types].sort(),
    outputFormat: p.outputFormat === 'application/fhir+ndjson' || p.outputFormat === 'ndjson' ? 'ndjson' : p.outputFormat,
    since: p.since ?? null,
    until: p.until ?? null,
    typeFilters: Object.keys(p.typeFilters)
      .sort()
      .map((t) => [t, [...(p.typeFilters[t] ?? [])].sort()]),
    elements: p.elements ? [...p.elements].sort() : null,
    provenance: p.provenance,
    patients: p.patients ?? null,
    ...(p.organizeOutputBy ? { organizeOutputBy: p.organizeOutputBy } : {}),
  });
  return createHash('sha256').update(canonical).digest('hex');
}
