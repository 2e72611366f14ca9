/**
 * The Bulk Cohort API (Bulk Data Access IG v3): clients create dynamic groups by POSTing a Group of the Bulk Cohort
 * profile (`member-filter` modifier extensions, `type: person`, `actual: false`, a `name`), synchronously or with
 * `Prefer: respond-async` (FHIR's Asynchronous Interaction Request pattern), and delete them again.
 *
 * A created group is a dynamic group like those of the management API: its members are evaluated from the
 * criteria at each export's kick-off, never stored. Creating one checks every criterion (refused, nothing stored,
 * when one cannot be evaluated), then evaluates them once, so a cohort larger than a group may be is refused at
 * creation rather than at its first export.
 *
 * An asynchronous creation is a stored request (`AsyncRequestStore`): it shows as pending for a moment at least,
 * then whichever process comes first (the one that accepted it, after that moment, or any process answering a
 * status poll) claims it and carries it out, so a restart loses nothing. A cancel that wins against the work in
 * flight removes the group again.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { FhirError, internal, invalid, methodNotAllowed, notFound, unprocessable } from '../fhir/errors.js';
import { BULK_COHORT_PROFILE, MEMBER_FILTER_URL, memberFilters } from '../fhir/group.js';
import { parseMemberFilter, resolveCriterion } from '../fhir/member-filter.js';
import { isValidId, prepareResource } from '../fhir/prepare.js';
import type { FhirResource } from '../fhir/resource.js';
import type { AsyncRequest, Store } from '../store/ports.js';
import type { AuditInput } from './audit-trail.js';

/** The tag a group created through the Bulk Cohort API carries (meta.tag). */
export const COHORT_ORIGIN_TAG = { system: 'https://flatfhir.dev/fhir/CodeSystem/group-origin', code: 'bulk-cohort-api' } as const;
export const MEMBER_FILTER_LANGUAGE = 'application/x-fhir-query';

/** Minimum time an asynchronous request shows as pending, so the first poll after kick-off is a 202. */
export const MIN_PENDING_MS = 1000;
/** How long a process holds a request it carries out before another may take it over. */
const LEASE_MS = 60_000;

interface Extension {
  url?: unknown;
  valueExpression?: { language?: unknown; expression?: unknown };
}

export interface CohortGroup extends FhirResource {
  name: string;
  type: 'person';
  actual: false;
  modifierExtension: { url: string; valueExpression: { language: string; expression: string } }[];
  identifier?: unknown[];
  meta?: { profile?: string[]; tag?: { system?: string; code?: string }[] };
}

/** What a created group is known by: its id and the version stored. */
export interface CreatedGroup {
  id: string;
  versionId: number;
  lastUpdated: number;
  /** The stored resource (JSON text). */
  json: string;
}

export type AsyncCohortStatus =
  | { state: 'pending'; progress: string; retryAfterSeconds: number }
  | { state: 'completed'; group: Omit<CreatedGroup, 'json'>; completedAt: number }
  | { state: 'failed'; error: FhirError };

export interface BulkCohortService {
  /** Checks a POSTed body against the Bulk Cohort profile and the criteria the server evaluates; the Group to store. */
  check(body: unknown): CohortGroup;
  /** Creates the group now (synchronous create). */
  create(tenant: string, body: unknown): Promise<CreatedGroup>;
  /** Checks the body and stores the request (asynchronous create); the work follows. */
  accept(tenant: string, clientId: string, body: unknown): Promise<AsyncRequest>;
  status(tenant: string, clientId: string, requestId: string): Promise<AsyncCohortStatus>;
  /** Cancels a pending request (no group is created) or forgets a finished one (its group stays). */
  cancel(tenant: string, clientId: string, requestId: string): Promise<{ wasPending: boolean; groupId: string | undefined }>;
  /** Deletes a dynamic group (those the Bulk Cohort API creates, and dynamic ones of the management API). */
  remove(tenant: string, id: string): Promise<void>;
  /** Stops the timers of requests accepted here (their work is then done by the next status poll). */
  close(): void;
}

export interface BulkCohortDeps {
  store: Pick<Store, 'resources' | 'cohorts' | 'asyncRequests'>;
  /** Most members a group may have. */
  maxGroupMembers: number;
  /** How long a finished request's outcome is kept. */
  retentionMs: number;
  log: Logger;
  /** Records what the background work does (the routes record what they answer). */
  audit?: (event: AuditInput) => void;
  now?: () => number;
  /** Defaults to MIN_PENDING_MS. */
  minPendingMs?: number;
}

interface RequestPayload {
  group: CohortGroup;
}

type RequestResult = { group: Omit<CreatedGroup, 'json'> } | { error: { status: number; code: string; message: string } };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The profile's rules, and the criteria's: 400 when the body is not a Group at all, 422 when it breaks the profile or asks what cannot be evaluated. */
export function checkCohortGroup(body: unknown): CohortGroup {
  if (!isObject(body)) throw invalid('The body must be a FHIR Group resource (JSON).');
  if (body['resourceType'] !== 'Group') throw invalid(`The body must be a Group resource, not ${typeof body['resourceType'] === 'string' ? body['resourceType'] : 'something without a resourceType'}.`);
  const profile = 'the Bulk Cohort profile';
  if (body['type'] !== 'person') {
    if (body['type'] === 'practitioner' || body['type'] === 'device') throw unprocessable(`Group.type ${body['type']}: only cohorts of patients (type person) are supported.`, 'not-supported');
    throw unprocessable(`Group.type must be person (${profile}: person, practitioner or device).`);
  }
  if (body['actual'] !== false) throw unprocessable(`Group.actual must be false: a cohort's members are defined by its member-filter criteria, not listed (${profile}).`);
  if (body['member'] !== undefined) throw unprocessable('Group.member is not supported: the criteria apply to every patient of the tenant.', 'not-supported');
  if (body['implicitRules'] !== undefined) throw unprocessable('Group.implicitRules is not supported (a modifier element the server cannot honour).', 'not-supported');
  if (body['characteristic'] !== undefined) throw unprocessable(`Group.characteristic is not used by ${profile}; give member-filter modifier extensions.`);
  const name = body['name'];
  if (typeof name !== 'string' || name.trim() === '' || name.length > 200) throw unprocessable(`Group.name is required (at most 200 characters) by ${profile}.`, 'required');
  const mods = body['modifierExtension'];
  if (mods !== undefined && !Array.isArray(mods)) throw invalid('Group.modifierExtension must be an array.');
  const modifiers = (mods ?? []) as Extension[];
  const unknown = modifiers.filter((e) => !isObject(e) || e.url !== MEMBER_FILTER_URL);
  if (unknown.length > 0) {
    const url = isObject(unknown[0]) && typeof unknown[0].url === 'string' ? unknown[0].url : '(no url)';
    throw unprocessable(`The modifier extension ${url} is not understood; only ${MEMBER_FILTER_URL} is.`, 'not-supported');
  }
  if (modifiers.length === 0) throw unprocessable(`A cohort needs at least one ${MEMBER_FILTER_URL} modifier extension (${profile}).`, 'required');
  if (modifiers.length > 20) throw unprocessable('A cohort has at most 20 member-filter criteria.', 'too-costly');
  const filters = modifiers.map((e, i) => {
    const v = e.valueExpression;
    if (!isObject(v)) throw unprocessable(`member-filter ${i + 1} has no valueExpression.`, 'required');
    if (v['language'] !== MEMBER_FILTER_LANGUAGE) {
      throw unprocessable(`member-filter ${i + 1}: the expression language ${typeof v['language'] === 'string' ? v['language'] : '(none)'} is not supported; use ${MEMBER_FILTER_LANGUAGE}.`, 'not-supported');
    }
    const expression = v['expression'];
    if (typeof expression !== 'string' || expression.trim() === '' || expression.length > 4000) throw unprocessable(`member-filter ${i + 1} has no expression (at most 4,000 characters).`, 'required');
    const parsed = parseMemberFilter(expression);
    if ('error' in parsed) throw unprocessable(`member-filter ${i + 1} cannot be evaluated: ${parsed.error}.`, 'not-supported');
    return { url: MEMBER_FILTER_URL, valueExpression: { language: MEMBER_FILTER_LANGUAGE, expression } };
  });
  const identifier = body['identifier'];
  if (identifier !== undefined && (!Array.isArray(identifier) || !identifier.every((i) => isObject(i) && typeof i['value'] === 'string'))) {
    throw invalid('Group.identifier must be a list of identifiers with a value.');
  }
  // The server assigns the id and the version; members-refreshed is omitted (members are evaluated at each kick-off).
  const {
    id: _id,
    meta: givenMeta,
    extension,
    modifierExtension: _m,
    ...rest
  } = body as Record<string, unknown> & { meta?: unknown; extension?: unknown };
  const tags = isObject(givenMeta) && Array.isArray(givenMeta['tag']) ? (givenMeta['tag'] as { system?: string; code?: string }[]).filter((t) => isObject(t) && t.system !== COHORT_ORIGIN_TAG.system) : [];
  const others = Array.isArray(extension) ? (extension as Extension[]).filter((e) => isObject(e) && e.url !== 'http://hl7.org/fhir/uv/bulkdata/StructureDefinition/members-refreshed') : [];
  const group = {
    ...rest,
    resourceType: 'Group',
    id: randomUUID(),
    meta: { profile: [BULK_COHORT_PROFILE], tag: [...tags, { ...COHORT_ORIGIN_TAG }] },
    ...(others.length > 0 ? { extension: others } : {}),
    modifierExtension: filters,
    name: name.trim(),
    type: 'person',
    actual: false,
  } as CohortGroup;
  return group;
}

const toError = (r: { status: number; code: string; message: string }): FhirError => new FhirError(r.status, r.code, r.message);

export function createBulkCohortService(deps: BulkCohortDeps): BulkCohortService {
  const { store, log } = deps;
  const now = deps.now ?? Date.now;
  const minPending = deps.minPendingMs ?? MIN_PENDING_MS;
  const timers = new Set<NodeJS.Timeout>();

  /** Evaluates the criteria once (the size check) and stores the group. */
  async function write(tenant: string, group: CohortGroup): Promise<CreatedGroup> {
    const at = now();
    const criteria = memberFilters(group).map((text) => {
      const parsed = parseMemberFilter(text);
      if ('error' in parsed) throw unprocessable(`This criterion cannot be evaluated: ${parsed.error}.`, 'not-supported');
      return resolveCriterion(parsed.filter, at);
    });
    const ids = await store.cohorts.matchPatients(tenant, criteria, deps.maxGroupMembers + 1);
    if (ids.length > deps.maxGroupMembers) {
      throw new FhirError(422, 'too-costly', `The criteria match more than ${deps.maxGroupMembers} patients, the most a group may have; narrow them.`);
    }
    await store.resources.writeBatch(tenant, [prepareResource(group)]);
    const stored = await store.resources.read(tenant, 'Group', group.id);
    if (!stored?.json) throw internal(`Group/${group.id} was not stored.`);
    log.info({ tenant, groupId: group.id, members: ids.length }, 'cohort group created');
    return { id: group.id, versionId: stored.versionId, lastUpdated: stored.lastUpdated, json: stored.json };
  }

  /** Carries out a pending request unless another process holds it; records the outcome. */
  async function carryOut(requestId: string): Promise<void> {
    const claimed = await store.asyncRequests.claimRequest(requestId, now(), now() + LEASE_MS);
    if (!claimed) return;
    const { group } = JSON.parse(claimed.payload) as RequestPayload;
    const event = { tenant: claimed.tenant, clientId: claimed.clientId, request: `POST Group (async request ${requestId})` };
    let result: RequestResult;
    try {
      const created = await write(claimed.tenant, group);
      result = { group: { id: created.id, versionId: created.versionId, lastUpdated: created.lastUpdated } };
    } catch (e) {
      const err = e instanceof FhirError ? e : internal('The group could not be created.', e);
      if (!(e instanceof FhirError)) log.error({ err: e, requestId }, 'cohort request failed');
      result = { error: { status: err.status, code: err.code, message: err.status >= 500 ? 'The group could not be created.' : err.message } };
    }
    const finished = await store.asyncRequests.finishRequest(requestId, 'error' in result ? 'failed' : 'completed', JSON.stringify(result), now());
    if (!finished) {
      // Cancelled while the work was in flight: the cancel wins, the group goes again.
      if ('group' in result) await store.resources.deleteResource(claimed.tenant, 'Group', result.group.id);
      return;
    }
    if ('group' in result) deps.audit?.({ ...event, action: 'group.create', outcome: 'success', status: 201, detail: `Group/${result.group.id}` });
    else deps.audit?.({ ...event, action: 'group.create', outcome: 'failure', status: result.error.status, detail: result.error.message });
  }

  function schedule(requestId: string): void {
    const timer = setTimeout(() => {
      timers.delete(timer);
      carryOut(requestId).catch((e: unknown) => log.error({ err: e, requestId }, 'cohort request not carried out'));
    }, minPending);
    timer.unref();
    timers.add(timer);
  }

  async function own(tenant: string, clientId: string, requestId: string): Promise<AsyncRequest> {
    const r = await store.asyncRequests.getRequest(requestId);
    // Another client's or tenant's request is indistinguishable from one that does not exist.
    if (!r || r.tenant !== tenant || r.clientId !== clientId || r.expiresAt <= now()) throw notFound(`No asynchronous request ${requestId}.`);
    return r;
  }

  return {
    check: checkCohortGroup,

    async create(tenant, body) {
      return write(tenant, checkCohortGroup(body));
    },

    async accept(tenant, clientId, body) {
      const group = checkCohortGroup(body);
      const at = now();
      const request = { id: randomUUID(), tenant, clientId, request: 'POST Group', payload: JSON.stringify({ group } satisfies RequestPayload), createdAt: at, expiresAt: at + deps.retentionMs };
      await store.asyncRequests.createRequest(request);
      schedule(request.id);
      return { ...request, status: 'pending', result: null, completedAt: null, leaseUntil: null };
    },

    async status(tenant, clientId, requestId) {
      let r = await own(tenant, clientId, requestId);
      if (r.status === 'pending' && now() >= r.createdAt + minPending) {
        await carryOut(requestId);
        r = await own(tenant, clientId, requestId);
      }
      if (r.status === 'pending') {
        const left = Math.max(0, r.createdAt + minPending - now());
        return { state: 'pending', progress: r.leaseUntil !== null && r.leaseUntil > now() ? 'creating the group' : 'queued', retryAfterSeconds: Math.max(1, Math.ceil(left / 1000)) };
      }
      const result = JSON.parse(r.result ?? '{}') as RequestResult;
      if ('error' in result) return { state: 'failed', error: toError(result.error) };
      return { state: 'completed', group: result.group, completedAt: r.completedAt ?? r.createdAt };
    },

    async cancel(tenant, clientId, requestId) {
      await own(tenant, clientId, requestId);
      const removed = await store.asyncRequests.deleteRequest(requestId);
      if (!removed) throw notFound(`No asynchronous request ${requestId}.`);
      const result = removed.result === null ? undefined : (JSON.parse(removed.result) as RequestResult);
      return { wasPending: removed.status === 'pending', groupId: result && 'group' in result ? result.group.id : undefined };
    },

    async remove(tenant, id) {
      if (!isValidId(id)) throw invalid(`"${id}" is not a Group id.`);
      const stored = await store.resources.read(tenant, 'Group', id);
      if (!stored || stored.deleted || !stored.json) throw notFound(`Group/${id} was not found.`);
      const group = JSON.parse(stored.json) as CohortGroup;
      if (memberFilters(group).length === 0) {
        throw methodNotAllowed(`Group/${id} lists its members: it is managed by the server's operators and cannot be deleted through the FHIR API (only cohorts defined by member-filter criteria can).`, ['GET']);
      }
      await store.resources.deleteResource(tenant, 'Group', id);
      log.info({ tenant, groupId: id }, 'cohort group deleted');
    },

    close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}
