import { isReferenceType } from '../fhir/resource-types.js';
import type { ExportJob, ResourceStore } from '../store/ports.js';
import type { ExportParams } from './kickoff.js';

/** What one chunk covers (stored with the chunk as JSON). */
export type Slice =
  | { mode: 'compartment'; from?: string; to?: string }
  | { mode: 'ids'; after?: string; to?: string }
  | { mode: 'referenced' }
  | { mode: 'deleted' }
  | { mode: 'warnings' };

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
      if (estimate === 0) continue;
      const parts = Math.min(patients.length, Math.ceil(estimate / input.chunkResources));
      if (parts <= 1) {
        chunks.push({ type, slice: { mode: 'compartment' }, estimate });
      } else {
        for (const r of patientRanges(patients, parts)) {
          chunks.push({ type, slice: { mode: 'compartment', from: r.from, to: r.to }, estimate: Math.round(estimate / parts) });
        }
      }
    } else {
      const estimate = await resources.count({ ...base, type });
      if (estimate === 0) continue;
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
    if (params.since !== undefined) chunks.push({ type, slice: { mode: 'deleted' }, estimate: 0 });
  }
  if (params.warnings.length > 0) chunks.push({ type: 'OperationOutcome', slice: { mode: 'warnings' }, estimate: 0 });
  return chunks;
}
