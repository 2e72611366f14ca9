import { randomUUID } from 'node:crypto';
import { FhirError, invalid, notFound } from '../fhir/errors.js';
import { BULK_COHORT_PROFILE, MEMBER_FILTER_URL, memberFilters } from '../fhir/group.js';
import { isRelative, type MemberFilter, parseMemberFilter, resolveCriterion } from '../fhir/member-filter.js';
import { isValidId, prepareResource } from '../fhir/prepare.js';
import type { FhirResource } from '../fhir/resource.js';
import { COHORT_ORIGIN_TAG } from './bulk-cohort.js';
import type { ManageDeps } from './deps.js';
import { checkTenantId } from './tenants.js';
import type { GroupView, MemberView } from './views.js';

export interface GroupCreate {
  tenant: string;
  name: string;
  /** A Group id (default: a new UUID). */
  id?: string;
  /** `system|value` or `value`. */
  identifier?: string;
  /** A static group's patients... */
  patients?: string[];
  /** ...or a static snapshot of the patients a criterion matches now (`Patient?…`)... */
  fromSearch?: string;
  /** ...or a dynamic group's member-filter criteria (all must match). */
  memberFilter?: string[];
}

export interface GroupService {
  create(input: GroupCreate): Promise<GroupView>;
  list(tenant: string): Promise<GroupView[]>;
  /** With members; `asOfJob` lists the member set a job recorded. */
  show(tenant: string, id: string, options?: { asOfJob?: string }): Promise<GroupView>;
  /** Adds patients (a member already listed is kept; an inactive one becomes active again). */
  addMembers(tenant: string, id: string, patients: string[]): Promise<GroupView>;
  removeMembers(tenant: string, id: string, patients: string[]): Promise<GroupView>;
  /** Marks members inactive (or active again): they stay listed but are not exported. */
  setInactive(tenant: string, id: string, patients: string[], inactive: boolean): Promise<GroupView>;
  remove(tenant: string, id: string): Promise<{ id: string; tenant: string; removed: true }>;
}

interface Member {
  entity: { reference: string };
  period?: { start?: string; end?: string };
  inactive?: boolean;
}

interface GroupResource extends FhirResource {
  name?: string;
  identifier?: { system?: string; value: string }[];
  member?: Member[];
  quantity?: number;
}

const patientRef = (id: string): string => `Patient/${id}`;
const fromCohortApi = (g: GroupResource): boolean =>
  Array.isArray(g.meta?.['tag']) && (g.meta['tag'] as { system?: unknown; code?: unknown }[]).some((t) => t?.system === COHORT_ORIGIN_TAG.system && t.code === COHORT_ORIGIN_TAG.code);
const memberId = (m: Member): string | undefined => /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(m.entity?.reference ?? '')?.[1];

function parseIdentifier(text: string): { system?: string; value: string } {
  const bar = text.indexOf('|');
  const system = bar < 0 ? undefined : text.slice(0, bar);
  const value = bar < 0 ? text : text.slice(bar + 1);
  if (value === '' || value.length > 200 || (system !== undefined && system.length > 500)) throw invalid('An identifier is "value" or "system|value".');
  return system ? { system, value } : { value };
}

/** Patient ids as given: `id` or `Patient/id`; checked by the FHIR id rule, duplicates dropped, order kept. */
export function normalizePatientIds(ids: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of ids) {
    const id = raw.trim().replace(/^Patient\//, '');
    if (id === '') continue;
    if (!isValidId(id)) throw invalid(`"${raw}" is not a Patient id.`);
    out.add(id);
  }
  return [...out];
}

export function groupService(deps: ManageDeps): GroupService {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const maxMembers = deps.config.export.maxGroupMembers;
  const LATEST = Number.MAX_SAFE_INTEGER;

  async function tenantOf(tenant: string): Promise<string> {
    const id = checkTenantId(tenant);
    if (!(await store.tenants.getTenant(id))) throw notFound(`No tenant ${id}.`);
    return id;
  }

  async function load(tenant: string, id: string): Promise<{ group: GroupResource; version: number; lastUpdated: number }> {
    const t = await tenantOf(tenant);
    if (!isValidId(id)) throw invalid(`"${id}" is not a Group id.`);
    const stored = await store.resources.read(t, 'Group', id);
    if (!stored || stored.deleted || !stored.json) throw notFound(`No Group/${id} in tenant ${t}.`);
    return { group: JSON.parse(stored.json) as GroupResource, version: stored.versionId, lastUpdated: stored.lastUpdated };
  }

  async function checkPresent(tenant: string, ids: string[]): Promise<void> {
    const present = new Set<string>();
    for (let i = 0; i < ids.length; i += 1000) {
      for (const p of await store.resources.presentIds(tenant, 'Patient', ids.slice(i, i + 1000), LATEST)) present.add(p);
    }
    const missing = ids.filter((p) => !present.has(p));
    if (missing.length > 0) throw invalid(`No such patients in tenant ${tenant}: ${missing.slice(0, 10).join(', ')}${missing.length > 10 ? ', …' : ''}.`);
  }

  function checkSize(n: number): void {
    if (n > maxMembers) throw new FhirError(400, 'too-costly', `A group has at most ${maxMembers} members; this one would have ${n}.`);
  }

  function checkCriteria(texts: string[]): MemberFilter[] {
    return texts.map((text) => {
      const parsed = parseMemberFilter(text);
      if ('error' in parsed) throw invalid(`This criterion cannot be evaluated: ${parsed.error}.`);
      return parsed.filter;
    });
  }

  async function evaluate(tenant: string, texts: string[], at: number): Promise<string[]> {
    const criteria = checkCriteria(texts).map((f) => resolveCriterion(f, at));
    const ids = await store.cohorts.matchPatients(tenant, criteria, maxMembers + 1);
    if (ids.length > maxMembers) throw new FhirError(400, 'too-costly', `The criteria match more than ${maxMembers} patients, the most a group may have.`);
    return ids;
  }

  async function write(tenant: string, group: GroupResource): Promise<void> {
    group.quantity = memberFilters(group).length > 0 ? undefined : (group.member ?? []).length;
    if (group.quantity === undefined) delete group.quantity;
    await store.resources.writeBatch(tenant, [prepareResource(group)]);
  }

  function view(tenant: string, g: GroupResource, version: number, lastUpdated: number, extra: Partial<GroupView> = {}): GroupView {
    const criteria = memberFilters(g);
    const dynamic = criteria.length > 0;
    return {
      id: g.id,
      tenant,
      name: g.name ?? '',
      kind: dynamic ? 'dynamic' : 'static',
      identifier: g.identifier ?? [],
      version,
      last_updated: new Date(lastUpdated).toISOString(),
      member_count: dynamic ? 0 : (g.member ?? []).length,
      bulk_cohort_api: fromCohortApi(g),
      ...(dynamic
        ? {
            criteria,
            relative: criteria.some((c) => {
              const p = parseMemberFilter(c);
              return 'filter' in p && isRelative(p.filter);
            }),
          }
        : {}),
      ...extra,
    };
  }

  const memberViews = (g: GroupResource): MemberView[] =>
    (g.member ?? []).flatMap((m) => {
      const id = memberId(m);
      return id ? [{ patient: id, period_start: m.period?.start ?? null, inactive: m.inactive === true }] : [];
    });

  async function reload(tenant: string, id: string): Promise<GroupView> {
    const { group, version, lastUpdated } = await load(tenant, id);
    return view(tenant, group, version, lastUpdated);
  }

  async function changeStatic(tenant: string, id: string, change: (members: Member[], at: string) => Member[]): Promise<GroupView> {
    const t = await tenantOf(tenant);
    const { group } = await load(t, id);
    if (memberFilters(group).length > 0) throw invalid(`Group/${id} is dynamic: its members are its criteria, not a list.`);
    const before = JSON.stringify(group.member ?? []);
    const members = change([...(group.member ?? [])], new Date(now()).toISOString());
    checkSize(members.length);
    if (JSON.stringify(members) !== before) {
      group.member = members;
      await write(t, group);
    }
    return reload(t, id);
  }

  return {
    async create(input) {
      const tenant = await tenantOf(input.tenant);
      if (typeof input.name !== 'string' || input.name.trim() === '' || input.name.length > 200) throw invalid('A group needs a name (at most 200 characters).');
      const id = input.id ?? randomUUID();
      if (!isValidId(id)) throw invalid(`"${id}" is not a valid Group id (1 to 64 letters, digits, "-" and ".").`);
      const sources = [input.patients !== undefined, input.fromSearch !== undefined, input.memberFilter !== undefined].filter(Boolean).length;
      if (sources !== 1) throw invalid('Give exactly one of: patients, a search (from_search) or member-filter criteria.');
      const existing = await store.resources.read(tenant, 'Group', id);
      if (existing && !existing.deleted) throw new FhirError(409, 'conflict', `Group/${id} exists already in tenant ${tenant}.`);
      const at = now();
      // `actual`: whether members are listed (the Bulk Cohort profile: false for a group defined by its criteria).
      const group: GroupResource = { resourceType: 'Group', id, type: 'person', actual: input.memberFilter === undefined, active: true, name: input.name.trim() };
      if (input.identifier !== undefined) group.identifier = [parseIdentifier(input.identifier)];
      if (input.memberFilter !== undefined) {
        if (input.memberFilter.length === 0) throw invalid('A dynamic group needs at least one member-filter criterion.');
        checkCriteria(input.memberFilter);
        group.meta = { profile: [BULK_COHORT_PROFILE] };
        group.modifierExtension = input.memberFilter.map((expression) => ({ url: MEMBER_FILTER_URL, valueExpression: { language: 'application/x-fhir-query', expression } }));
      } else {
        let ids: string[];
        if (input.fromSearch !== undefined) {
          ids = await evaluate(tenant, [input.fromSearch], at);
        } else {
          ids = normalizePatientIds(input.patients ?? []);
          checkSize(ids.length);
          await checkPresent(tenant, ids);
        }
        const start = new Date(at).toISOString();
        group.member = ids.map((p) => ({ entity: { reference: patientRef(p) }, period: { start } }));
      }
      await write(tenant, group);
      deps.log?.info({ tenant, groupId: id }, 'group created');
      return reload(tenant, id);
    },

    async list(tenant) {
      const t = await tenantOf(tenant);
      const out: GroupView[] = [];
      for await (const batch of store.resources.scan({ tenant: t, type: 'Group', until: LATEST })) {
        for (const r of batch) if (r.json) out.push(view(t, JSON.parse(r.json) as GroupResource, r.versionId, r.lastUpdated));
      }
      return out.sort((a, b) => a.name.localeCompare(b.name) || (a.id < b.id ? -1 : 1));
    },

    async show(tenant, id, options = {}) {
      const t = await tenantOf(tenant);
      const { group, version, lastUpdated } = await load(t, id);
      const criteria = memberFilters(group);
      if (options.asOfJob !== undefined) {
        const job = await store.jobs.getJob(options.asOfJob);
        if (!job || job.tenant !== t || (job.params as { groupId?: unknown }).groupId !== id) throw notFound(`No export job ${options.asOfJob} of Group/${id}.`);
        const ids = await store.cohorts.jobPatientIds(job.id);
        const members = ids.map((p) => ({ patient: p, period_start: null, inactive: false }));
        return view(t, group, version, lastUpdated, { members, member_count: members.length, as_of_job: job.id, evaluated_at: new Date(job.createdAt).toISOString() });
      }
      if (criteria.length > 0) {
        const at = now();
        const members = (await evaluate(t, criteria, at)).map((p) => ({ patient: p, period_start: null, inactive: false }));
        return view(t, group, version, lastUpdated, { members, member_count: members.length, evaluated_at: new Date(at).toISOString() });
      }
      return view(t, group, version, lastUpdated, { members: memberViews(group) });
    },

    async addMembers(tenant, id, patients) {
      const ids = normalizePatientIds(patients);
      await checkPresent(checkTenantId(tenant), ids);
      return changeStatic(tenant, id, (members, at) => {
        const byId = new Map(members.map((m, i) => [memberId(m), i]));
        for (const p of ids) {
          const i = byId.get(p);
          if (i === undefined) members.push({ entity: { reference: patientRef(p) }, period: { start: at } });
          else if ((members[i] as Member).inactive === true) members[i] = { entity: { reference: patientRef(p) }, period: { start: at } };
        }
        return members;
      });
    },

    async removeMembers(tenant, id, patients) {
      const ids = new Set(normalizePatientIds(patients));
      return changeStatic(tenant, id, (members) => members.filter((m) => !ids.has(memberId(m) ?? '')));
    },

    async setInactive(tenant, id, patients, inactive) {
      const ids = new Set(normalizePatientIds(patients));
      return changeStatic(tenant, id, (members) => {
        const known = new Set(members.map(memberId));
        const unknown = [...ids].filter((p) => !known.has(p));
        if (unknown.length > 0) throw invalid(`Not members of Group/${id}: ${unknown.slice(0, 10).join(', ')}.`);
        return members.map((m) => {
          if (!ids.has(memberId(m) ?? '')) return m;
          const { inactive: _old, ...rest } = m;
          return inactive ? { ...rest, inactive: true } : rest;
        });
      });
    },

    async remove(tenant, id) {
      const t = await tenantOf(tenant);
      await load(t, id);
      await store.resources.deleteResource(t, 'Group', id);
      deps.log?.info({ tenant: t, groupId: id }, 'group removed');
      return { id, tenant: t, removed: true };
    },
  };
}

export type { GroupView, MemberView } from './views.js';
