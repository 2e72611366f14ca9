import { FhirError, invalid } from '../fhir/errors.js';
import { parseInstant } from '../fhir/instant.js';
import type { ViewStore } from '../store/ports.js';
import { isViewName, libraryView, resolveCanonical, storedDefinition } from './catalog.js';
import { compileView, type CompiledView } from './evaluate.js';
import { bindParameters, isSqlLibrary, parseSqlQuery, type SqlQuery } from './sql-query.js';
import type { ViewDefinition } from './view-definition.js';
import { FLAT_FORMATS, type FlatFormat } from './writers.js';

/** An OperationOutcome issue with the parameter at fault in `expression` (the ballot asks for it). */
export function paramError(status: number, code: string, message: string, expression?: string): FhirError {
  const e = new FhirError(status, code, message);
  if (expression) {
    const base = e.toOperationOutcome.bind(e);
    e.toOperationOutcome = () => {
      const oo = base();
      for (const issue of oo.issue) (issue as { expression?: string[] }).expression = [expression];
      return oo;
    };
  }
  return e;
}

/** One subject of $sql-run / $sql-export, resolved: a view, or a SQLQuery with its dependency views. */
export type ResolvedSubject =
  | { kind: 'view'; name: string; view: CompiledView }
  | { kind: 'query'; name: string; query: SqlQuery; tables: { label: string; view: CompiledView }[]; params: Record<string, unknown> };

export interface SqlOperationRequest {
  subjects: ResolvedSubject[];
  format: FlatFormat | 'fhir';
  header: boolean;
  patients?: string[];
  groupId?: string;
  since?: number;
  clientTrackingId?: string;
  limit?: number;
  /** Resources supplied inline ($sql-run `resource`), evaluated instead of the store's. */
  resources?: Record<string, unknown>[];
}

interface RawParam {
  name?: unknown;
  part?: unknown;
  resource?: unknown;
  [value: string]: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function valueOf(p: RawParam): unknown {
  const key = Object.keys(p).find((k) => k.startsWith('value'));
  return key ? p[key] : undefined;
}

function stringValue(p: RawParam, name: string): string {
  const v = valueOf(p);
  if (typeof v !== 'string') throw paramError(400, 'invalid', `${name} needs a string value.`, name);
  return v;
}

function referenceValue(p: RawParam, name: string): string {
  const v = valueOf(p);
  const ref = isObject(v) ? v.reference : v;
  if (typeof ref !== 'string') throw paramError(400, 'invalid', `${name} needs a valueReference with a reference.`, name);
  return ref;
}

/** The parameters of a GET's query string or a POSTed Parameters resource, as Parameters entries. */
export function requestParameters(method: string, query: Record<string, unknown>, body: unknown): RawParam[] {
  if (method === 'GET') {
    const out: RawParam[] = [];
    for (const [name, raw] of Object.entries(query)) {
      for (const v of Array.isArray(raw) ? raw : [raw]) {
        if (typeof v !== 'string') continue;
        if (name === 'patient' || name === 'group' || name === 'subjectReference') out.push({ name, valueReference: { reference: v } });
        else out.push({ name, valueString: v });
      }
    }
    return out;
  }
  if (!isObject(body) || body.resourceType !== 'Parameters') throw invalid('The request body must be a FHIR Parameters resource.');
  const list = body.parameter ?? [];
  if (!Array.isArray(list)) throw invalid('Parameters.parameter must be an array.');
  for (const p of list) if (!isObject(p) || typeof p.name !== 'string') throw invalid('Each Parameters.parameter needs a name.');
  return list as RawParam[];
}

const VIEW_REFERENCE = /^(?:.*\/)?(ViewDefinition|Library)\/([A-Za-z0-9\-._]{1,64})$/;

async function resolveDefinition(
  views: ViewStore,
  tenant: string,
  how: { canonical?: string; reference?: string; resource?: unknown },
  context: ViewDefinition[],
  expression: string,
): Promise<unknown> {
  if (how.resource !== undefined) return how.resource;
  if (how.canonical !== undefined) {
    const url = how.canonical.split('|')[0];
    const supplied = context.find((c) => c.url === url);
    if (supplied) return supplied;
    const found = await resolveCanonical(views, tenant, how.canonical);
    if (!found) throw paramError(404, 'not-found', `No ViewDefinition with canonical ${how.canonical} is known.`, expression);
    return found;
  }
  const m = VIEW_REFERENCE.exec(how.reference ?? '');
  if (!m || m[1] !== 'ViewDefinition' || !isViewName(m[2])) {
    throw paramError(404, 'not-found', `Subject with reference '${how.reference}' not found (stored subjects are ViewDefinition/<name>).`, expression);
  }
  const stored = await views.getView(tenant, m[2]);
  if (stored) return storedDefinition(stored);
  const shipped = libraryView(m[2]);
  if (shipped) return shipped;
  throw paramError(404, 'not-found', `Subject with reference '${how.reference}' not found.`, expression);
}

function compileSubject(definition: unknown, expression: string): CompiledView {
  try {
    return compileView(definition);
  } catch (e) {
    if (e instanceof FhirError) throw paramError(422, 'invalid', e.message, expression);
    throw e;
  }
}

/**
 * Reads the parameters of `$sql-run` (one subject, given at the top level) or `$sql-export` (`subject`
 * repetitions with parts), resolves every subject (stored views by reference or canonical url, shipped views,
 * inline ViewDefinitions or SQLQuery Libraries with their dependency views from `context` or the store) and
 * compiles the views. Throws a FhirError naming the parameter at fault.
 */
export async function parseSqlOperation(
  op: 'run' | 'export',
  params: RawParam[],
  deps: { views: ViewStore; tenant: string },
): Promise<SqlOperationRequest> {
  const request: SqlOperationRequest = { subjects: [], format: op === 'run' ? 'ndjson' : 'ndjson', header: true };
  const context: ViewDefinition[] = [];
  const subjectSpecs: { name?: string; canonical?: string; reference?: string; resource?: unknown; parameters?: unknown; expression: string }[] = [];
  const runSubject: { canonical?: string; reference?: string; resource?: unknown; parameters?: unknown } = {};
  const patients: string[] = [];
  const groups: string[] = [];
  for (const p of params) {
    const name = p.name as string;
    switch (name) {
      case 'subject': {
        if (op !== 'export') throw paramError(400, 'invalid', '$sql-run takes subjectCanonical, subjectReference or subjectResource, not subject.', 'subject');
        const expression = `subject[${subjectSpecs.length}]`;
        const spec: (typeof subjectSpecs)[number] = { expression };
        const parts = Array.isArray(p.part) ? (p.part as RawParam[]) : [];
        for (const part of parts) {
          if (!isObject(part)) continue;
          if (part.name === 'name') spec.name = stringValue(part, 'subject.name');
          else if (part.name === 'subjectCanonical') spec.canonical = stringValue(part, 'subject.subjectCanonical');
          else if (part.name === 'subjectReference') spec.reference = referenceValue(part, 'subject.subjectReference');
          else if (part.name === 'subjectResource') spec.resource = part.resource;
          else if (part.name === 'parameters') spec.parameters = part.resource;
          else throw paramError(400, 'not-supported', `subject part ${JSON.stringify(part.name)} is not supported.`, expression);
        }
        const forms = [spec.canonical, spec.reference, spec.resource].filter((x) => x !== undefined).length;
        if (forms !== 1) throw paramError(400, 'invalid', `${expression} needs exactly one of subjectCanonical, subjectReference and subjectResource.`, 'subject');
        subjectSpecs.push(spec);
        break;
      }
      case 'subjectCanonical':
      case 'subjectReference':
      case 'subjectResource':
      case 'parameters':
        if (op !== 'run') throw paramError(400, 'invalid', `${name} is given inside a subject parameter on $sql-export.`, name);
        if (name === 'subjectCanonical') runSubject.canonical = stringValue(p, name);
        else if (name === 'subjectReference') runSubject.reference = referenceValue(p, name);
        else if (name === 'subjectResource') runSubject.resource = p.resource;
        else runSubject.parameters = p.resource;
        break;
      case 'context':
        if (!isObject(p.resource) || typeof p.resource.url !== 'string') throw paramError(400, 'invalid', 'Each context entry needs a resource with a url.', 'context');
        if (context.some((c) => c.url === (p.resource as { url: string }).url)) throw paramError(400, 'invalid', 'Two context entries share a url.', 'context');
        context.push(p.resource as unknown as ViewDefinition);
        break;
      case 'resource':
        if (op !== 'run') throw paramError(400, 'not-supported', 'resource is offered by $sql-run only.', 'resource');
        if (!isObject(p.resource)) throw paramError(400, 'invalid', 'resource needs a resource.', 'resource');
        (request.resources ??= []).push(p.resource);
        break;
      case '_format': {
        const f = stringValue(p, '_format');
        if (f === 'fhir' && op === 'export') throw paramError(400, 'invalid', '_format fhir is offered by $sql-run only.', '_format');
        if (f !== 'fhir' && !(FLAT_FORMATS as readonly string[]).includes(f)) {
          throw paramError(400, 'not-supported', `_format ${JSON.stringify(f)} is not supported: use ${[...FLAT_FORMATS, ...(op === 'run' ? ['fhir'] : [])].join(', ')}.`, '_format');
        }
        request.format = f as FlatFormat | 'fhir';
        break;
      }
      case 'header': {
        const v = valueOf(p);
        if (v !== true && v !== false && v !== 'true' && v !== 'false') throw paramError(400, 'invalid', 'header is a boolean.', 'header');
        request.header = v === true || v === 'true';
        break;
      }
      case 'patient': {
        const m = /^(?:.*\/)?Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(referenceValue(p, 'patient'));
        if (!m) throw paramError(400, 'invalid', 'patient must reference a Patient.', 'patient');
        patients.push(m[1] as string);
        break;
      }
      case 'group': {
        const m = /^(?:.*\/)?Group\/([A-Za-z0-9\-.]{1,64})$/.exec(referenceValue(p, 'group'));
        if (!m) throw paramError(400, 'invalid', 'group must reference a Group.', 'group');
        groups.push(m[1] as string);
        break;
      }
      case '_since': {
        const v = stringValue(p, '_since');
        const ms = parseInstant(v);
        if (ms === undefined) throw paramError(400, 'invalid', `_since "${v}" is not a valid FHIR instant.`, '_since');
        request.since = ms;
        break;
      }
      case 'clientTrackingId':
        if (op !== 'export') throw paramError(400, 'not-supported', 'clientTrackingId is offered by $sql-export only.', 'clientTrackingId');
        request.clientTrackingId = stringValue(p, 'clientTrackingId').slice(0, 256);
        break;
      case '_limit': {
        if (op !== 'run') throw paramError(400, 'invalid', '_limit is offered by $sql-run only.', '_limit');
        const n = Number(valueOf(p));
        if (!Number.isInteger(n) || n < 1) throw paramError(400, 'invalid', '_limit is a positive integer.', '_limit');
        request.limit = n;
        break;
      }
      case 'source':
        throw paramError(400, 'not-supported', "The server does not support the 'source' parameter.", 'source');
      default:
        throw paramError(400, 'not-supported', `Parameter ${JSON.stringify(name)} is not supported.`, name);
    }
  }
  if (groups.length > 1) throw paramError(400, 'not-supported', 'One group at most.', 'group');
  if (groups.length === 1) request.groupId = groups[0] as string;
  if (patients.length > 0) request.patients = [...new Set(patients)];

  if (op === 'run') {
    const forms = [runSubject.canonical, runSubject.reference, runSubject.resource].filter((x) => x !== undefined).length;
    if (forms !== 1) throw paramError(400, 'invalid', 'Give exactly one of subjectCanonical, subjectReference and subjectResource.', 'subject');
    subjectSpecs.push({ ...runSubject, expression: 'subject' });
  } else if (subjectSpecs.length === 0) {
    throw paramError(400, 'required', 'At least one subject is required.', 'subject');
  }
  if (request.resources && op === 'run' && (request.patients || request.groupId || request.since !== undefined)) {
    throw paramError(400, 'invalid', 'patient, group and _since filter the server\'s data; they do not apply to supplied resources.', 'resource');
  }

  const used = new Set<string>();
  for (const [i, spec] of subjectSpecs.entries()) {
    const definition = await resolveDefinition(deps.views, deps.tenant, spec, context, `${spec.expression}`);
    let subject: ResolvedSubject;
    if (isSqlLibrary(definition)) {
      let query: SqlQuery;
      try {
        query = parseSqlQuery(definition);
      } catch (e) {
        if (e instanceof FhirError) throw paramError(422, 'invalid', e.message, spec.expression);
        throw e;
      }
      const tables: { label: string; view: CompiledView }[] = [];
      for (const dep of query.dependencies) {
        const def = await resolveDefinition(deps.views, deps.tenant, { canonical: dep.canonical }, context, spec.expression).catch((e: unknown) => {
          if (e instanceof FhirError && e.status === 404) throw paramError(404, 'not-found', `Dependency ${dep.canonical} (${dep.label}) is neither supplied in context nor known.`);
          throw e;
        });
        if (isSqlLibrary(def)) throw paramError(422, 'invalid', `Dependency ${dep.canonical} is a Library; SQLView dependencies are not supported.`, spec.expression);
        tables.push({ label: dep.label, view: compileSubject(def, spec.expression) });
      }
      if (request.resources) throw paramError(400, 'invalid', 'resource requires a ViewDefinition subject.', 'resource');
      subject = { kind: 'query', name: spec.name ?? query.name ?? `query_${i + 1}`, query, tables, params: bindParameters(query, spec.parameters) };
    } else {
      if (spec.parameters !== undefined) throw paramError(400, 'invalid', 'parameters apply to a SQLQuery subject, not a ViewDefinition.', 'parameters');
      const view = compileSubject(definition, spec.expression);
      subject = { kind: 'view', name: spec.name ?? view.definition.name ?? `view_${i + 1}`, view };
    }
    if (used.has(subject.name)) throw paramError(400, 'invalid', `Two subject repetitions would produce the output name '${subject.name}'.`, 'subject');
    used.add(subject.name);
    request.subjects.push(subject);
  }
  return request;
}

/** The resource types a request reads (a scope must grant read on each). */
export function typesRead(request: SqlOperationRequest): string[] {
  const types = new Set<string>();
  for (const s of request.subjects) {
    if (s.kind === 'view') types.add(s.view.resource);
    else for (const t of s.tables) types.add(t.view.resource);
  }
  return [...types].sort();
}
