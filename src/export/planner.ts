import { FhirError, invalid, notFound } from '../fhir/errors.js';
import { activeMembers, type GroupMember, memberFilters, membersAtAnyTime } from '../fhir/group.js';
import { parseMemberFilter, resolveCriterion } from '../fhir/member-filter.js';
import { isClinicalType, isReferenceType } from '../fhir/resource-types.js';
import type { CohortStore, ExportJob, ResourceStore } from '../store/ports.js';
import type { ExportParams } from './kickoff.js';

/** What one chunk covers (stored with the chunk as JSON). */
export type Slice =
  | { mode: 'compartment'; from?: string; to?: string }
  | { mode: 'ids'; after?: string; to?: string }
  | { mode: 'referenced' }
  | { mode: 'deleted' }
  | { mode: 'warnings' }
  /**
   * Patient blocks (`organizeOutputBy=Patient`) of these job patients, in order; `types`: the clinical types with
   * rows in the job's compartments (the others are not scanned per patient).
   */
  | { mode: 'blocks'; patients: string[]; types?: string[] }
  /** The first chunk of every job: plans the others (so a kick-off answers without planning). */
  | { mode: 'plan' };

/** The type recorded for the planning chunk (it writes no file). */
export const PLAN_CHUNK_TYPE = '$plan';

/** The snapshot instant a job reads at. */
export const jobUntil = (job: ExportJob, params: ExportParams): number =>
  params.until !== undefined ? Math.min(params.until, job.transactionTime) : job.transactionTime;

const listed = (ids: string[]): string => `${ids.slice(0, 10).map((p) => `Patient/${p}`).join(', ')}${ids.length > 10 ? ', …' : ''}`;

/** How a dynamic group (one with `member-filter` criteria) is evaluated: on the store's search-value index. */
export interface CohortEvaluation {
  cohorts: CohortStore;
  /** The kick-off instant (the job's transaction time) relative dates (`date=ge-7d`) are resolved against. */
  kickoff: number;
  /** The most members a group may have (more: the export is refused). */
  maxMembers: number;
}

/**
 * A group's members at `at` (throws not-found when the group does not exist then). A dynamic group is evaluated
 * when `cohort` is given (its members at kick-off); without it, a dynamic group has no members listed.
 */
export async function groupMembers(resources: ResourceStore, tenant: string, groupId: string, at: number, cohort?: CohortEvaluation): Promise<GroupMember[]> {
  const stored = await resources.readAt(tenant, 'Group', groupId, at);
  if (!stored || stored.deleted || !stored.json) throw notFound(`Group/${groupId} was not found.`);
  const group = JSON.parse(stored.json) as object;
  const filters = memberFilters(group);
  if (filters.length === 0 || !cohort) return activeMembers(group, at);
  const criteria = filters.map((text) => {
    const parsed = parseMemberFilter(text);
    if ('error' in parsed) throw invalid(`Group/${groupId} has a member-filter that cannot be evaluated: ${parsed.error}.`);
    return resolveCriterion(parsed.filter, cohort.kickoff);
  });
  const ids = await cohort.cohorts.matchPatients(tenant, criteria, cohort.maxMembers + 1);
  if (ids.length > cohort.maxMembers) {
    throw new FhirError(400, 'too-costly', `Group/${groupId} has more than ${cohort.maxMembers} members at this kick-off (its member-filter criteria match more patients); narrow the criteria.`);
  }
  return ids.map((patientId) => ({ patientId }));
}

/**
 * Active-member counts of group versions whose count holds at any time (`membersAtAnyTime`), by tenant, id,
 * version and last update (a stored version never changes): a kick-off of a large group already exported then
 * reads it without parsing it, which would make garbage of every member entry on the thread that answers requests.
 */
const memberCounts = new Map<string, number>();
const MEMBER_COUNTS_KEPT = 256;

/**
 * The kick-off's checks that depend on the data (the IG wants them answered at kick-off): the group exists,
 * listed patients are its members, or exist. Each is one indexed read (the group) or one batched look-up.
 */
export async function checkKickoffData(
  resources: ResourceStore,
  tenant: string,
  params: ExportParams,
  until: number,
): Promise<{ group?: { versionId: number; members: number } }> {
  if (params.kind === 'group') {
    const groupId = params.groupId as string;
    const stored = await resources.readAt(tenant, 'Group', groupId, until);
    if (!stored || stored.deleted || !stored.json) throw notFound(`Group/${groupId} was not found.`);
    const key = [tenant, groupId, stored.versionId, stored.lastUpdated].join('\u0000');
    const known = params.patients ? undefined : memberCounts.get(key);
    if (known !== undefined) return { group: { versionId: stored.versionId, members: known } };
    const group = JSON.parse(stored.json) as object;
    const members = activeMembers(group, until);
    if (membersAtAnyTime(group)) {
      if (memberCounts.size >= MEMBER_COUNTS_KEPT) memberCounts.delete(memberCounts.keys().next().value as string);
      memberCounts.set(key, members.length);
    }
    if (params.patients) {
      const ids = new Set(members.map((m) => m.patientId));
      const outside = params.patients.filter((p) => !ids.has(p));
      if (outside.length > 0) throw invalid(`Not members of Group/${params.groupId}: ${listed(outside)}.`);
    }
    return { group: { versionId: stored.versionId, members: members.length } };
  } else if (params.kind === 'patient' && params.patients) {
    const present = new Set(await resources.presentIds(tenant, 'Patient', params.patients, until));
    const missing = params.patients.filter((p) => !present.has(p));
    if (missing.length > 0) throw invalid(`Unknown patients: ${listed(missing)}.`);
  }
  return {};
}

/** The job's patients with whether each gets its full history (a member who joined after `_since`). */
export async function jobPatients(
  resources: ResourceStore,
  job: ExportJob,
  params: ExportParams,
  until: number,
  cohort?: Omit<CohortEvaluation, 'kickoff'>,
): Promise<{ id: string; fullHistory: boolean }[] | undefined> {
  // Patient blocks of a system export: every patient.
  if (params.kind === 'system' && !params.organizeOutputBy) return undefined;
  if (params.kind === 'group') {
    const groupId = params.groupId as string;
    // A dynamic group is evaluated once, relative dates against the job's transaction time (its kick-off
    // instant on the store's clock); the job keeps the set.
    const members = await groupMembers(resources, job.tenant, groupId, until, cohort ? { ...cohort, kickoff: job.transactionTime } : undefined);
    let selected: GroupMember[] = members;
    if (params.patients) {
      const byId = new Map(members.map((m) => [m.patientId, m]));
      selected = params.patients.filter((p) => byId.has(p)).map((p) => byId.get(p) as GroupMember);
    }
    let before = new Set<string>();
    if (params.since !== undefined) {
      const old = await resources.readAt(job.tenant, 'Group', groupId, params.since);
      if (old && !old.deleted && old.json) before = new Set(activeMembers(JSON.parse(old.json) as object, params.since).map((m) => m.patientId));
    }
    return selected.map((m) => ({
      id: m.patientId,
      fullHistory: params.since !== undefined && (!before.has(m.patientId) || (m.start !== undefined && m.start > params.since)),
    }));
  }
  if (params.patients) return params.patients.map((id) => ({ id, fullHistory: false }));
  const ids: { id: string; fullHistory: boolean }[] = [];
  for await (const batch of resources.scan({ tenant: job.tenant, type: 'Patient', until })) for (const r of batch) ids.push({ id: r.id, fullHistory: false });
  return ids;
}

export interface PlannedChunk {
  type: string;
  slice: Slice;
  estimate: number;
}

export interface PlanInput {
  job: ExportJob;
  params: ExportParams;
  /** The snapshot instant the export reads at. */
  until: number;
  /** The job's patients in id order, for compartment-based exports (absent for system level). */
  patients?: string[];
  resources: ResourceStore;
  chunkResources: number;
}

/**
 * Plans patient blocks: runs of patients sized to about `chunkResources` compartment rows each (the shared
 * resources and Provenance go into each block and are not counted); tombstones per type with `_since`.
 */
async function planBlocks(input: PlanInput, base: { tenant: string; until: number; since?: number }): Promise<PlannedChunk[]> {
  const { job, params, resources } = input;
  const patients = input.patients ?? [];
  const clinical = params.types.filter(isClinicalType);
  const chunks: PlannedChunk[] = [];
  if (params.warnings.length > 0) chunks.push({ type: 'OperationOutcome', slice: { mode: 'warnings' }, estimate: 0 });
  if (patients.length > 0) {
    let estimate = 0;
    const present: string[] = [];
    for (const type of clinical) {
      const n = await resources.count({ ...base, type, patients: { jobId: job.id } });
      estimate += n;
      if (n > 0) present.push(type);
    }
    const parts = Math.max(1, Math.min(patients.length, Math.ceil(estimate / input.chunkResources)));
    const size = Math.ceil(patients.length / parts);
    for (let i = 0; present.length > 0 && i < patients.length; i += size) {
      chunks.push({ type: 'Patient', slice: { mode: 'blocks', patients: patients.slice(i, i + size), types: present }, estimate: Math.round(estimate / parts) });
    }
  }
  if (params.since !== undefined) for (const type of clinical) chunks.push({ type, slice: { mode: 'deleted' }, estimate: 0 });
  return chunks;
}

/** Splits sorted patient ids into `parts` contiguous ranges. */
function patientRanges(patients: string[], parts: number): { from: string; to: string }[] {
  const ranges: { from: string; to: string }[] = [];
  const size = Math.ceil(patients.length / parts);
  for (let i = 0; i < patients.length; i += size) {
    ranges.push({ from: patients[i] as string, to: patients[Math.min(i + size, patients.length) - 1] as string });
  }
  return ranges;
}

/**
 * Plans a job into chunks: for each type, slices of the patient set (or of the id space at system level) sized
 * to about `chunkResources` rows each; referenced types and Provenance as one chunk each; tombstones per type
 * when `_since` is given; and the lenient-handling warnings.
 */
export async function planExport(input: PlanInput): Promise<PlannedChunk[]> {
  const { job, params, until, resources } = input;
  const chunks: PlannedChunk[] = [];
  const base = { tenant: job.tenant, until, ...(params.since !== undefined ? { since: params.since } : {}) };
  const compartment = input.patients !== undefined;
  if (params.organizeOutputBy) return planBlocks(input, base);
  for (const type of params.types) {
    // Shared resources follow what is exported for patients; a system-level export takes them all.
    if (type === 'Provenance' || (isReferenceType(type) && compartment)) {
      chunks.push({ type, slice: { mode: 'referenced' }, estimate: 0 });
      continue;
    }
    if (compartment) {
      const patients = input.patients as string[];
      if (patients.length === 0) continue;
      const estimate = await resources.count({ ...base, type, patients: { jobId: job.id } });
      if (estimate === 0) {
        // Nothing live changed, but some may have been deleted since.
        if (params.since !== undefined) chunks.push({ type, slice: { mode: 'deleted' }, estimate: 0 });
        continue;
      }
      const parts = Math.min(patients.length, Math.ceil(estimate / input.chunkResources));
      if (parts <= 1) {
        chunks.push({ type, slice: { mode: 'compartment' }, estimate });
      } else {
        for (const r of patientRanges(patients, parts)) {
          chunks.push({ type, slice: { mode: 'compartment', from: r.from, to: r.to }, estimate: Math.round(estimate / parts) });
        }
      }
    } else if (params.since === undefined) {
      // Every live row is exported: the id boundaries alone slice the type (one pass over its ids), and only the
      // rows after the last boundary are counted, rather than the whole type first and its boundaries after.
      const bounds = await resources.idBoundaries(job.tenant, type, until, input.chunkResources);
      let after: string | undefined;
      for (const to of bounds) {
        chunks.push({ type, slice: { mode: 'ids', ...(after !== undefined ? { after } : {}), to }, estimate: input.chunkResources });
        after = to;
      }
      const rest = await resources.count({ ...base, type, ...(after !== undefined ? { ids: { after } } : {}) });
      if (rest > 0) chunks.push({ type, slice: { mode: 'ids', ...(after !== undefined ? { after } : {}) }, estimate: rest });
    } else {
      const estimate = await resources.count({ ...base, type });
      if (estimate === 0) {
        // Nothing live changed, but some may have been deleted since.
        if (params.since !== undefined) chunks.push({ type, slice: { mode: 'deleted' }, estimate: 0 });
        continue;
      }
      if (estimate <= input.chunkResources) {
        chunks.push({ type, slice: { mode: 'ids' }, estimate });
      } else {
        const bounds = await resources.idBoundaries(job.tenant, type, until, input.chunkResources);
        let after: string | undefined;
        for (const to of bounds) {
          chunks.push({ type, slice: { mode: 'ids', ...(after !== undefined ? { after } : {}), to }, estimate: input.chunkResources });
          after = to;
        }
        const last = estimate - bounds.length * input.chunkResources;
        if (last > 0 || bounds.length === 0) {
          chunks.push({ type, slice: { mode: 'ids', ...(after !== undefined ? { after } : {}) }, estimate: Math.max(last, 0) });
        }
      }
    }
    // Tombstones have no rows in a view ($sql-export jobs).
    if (params.since !== undefined && params.views === undefined) chunks.push({ type, slice: { mode: 'deleted' }, estimate: 0 });
  }
  if (params.warnings.length > 0) {
    const warnings: PlannedChunk = { type: 'OperationOutcome', slice: { mode: 'warnings' }, estimate: 0 };
    // With partial manifests the warnings come first: every manifest page lists them.
    if (params.allowPartialManifests) chunks.unshift(warnings);
    else chunks.push(warnings);
  }
  return chunks;
}
