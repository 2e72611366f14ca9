import { mkdir } from 'node:fs/promises';
import { EXPORT_TYPES } from '../fhir/resource-types.js';
import type { FhirResource } from '../fhir/resource.js';
import { NdjsonWriter } from './ndjson-writer.js';
import { type Emit, generatePatientResources, type PopulationContext } from './patient.js';
import { hashSeed, Rng } from './random.js';
import { createPool } from './common.js';

/** Every resource type a population contains (each exported type, and Binary behind the attachments), in the order their files are listed. */
export const SYNTHETIC_TYPES: readonly string[] = [...EXPORT_TYPES, 'Binary'].sort();

export interface GenerateOptions {
  /** Number of patients (a non-negative integer). */
  patients: number;
  /** Any string or number; `42` and `'42'` give the same population. */
  seed: string | number;
  /** Output directory (created if missing); `<Type>.ndjson` files in it are overwritten. */
  out: string;
  /** Called after each patient. */
  onProgress?: (done: number, total: number) => void;
}

export interface GenerateResult {
  /** Resources written per type (every type in SYNTHETIC_TYPES, zero included). */
  counts: Record<string, number>;
}

/**
 * The population's context (ids prefix, seed state, shared pool), emitting the shared Organization, Location
 * and Practitioner resources. Patients are then produced one by one with `generatePatientResources`.
 */
export function createPopulation(seed: string | number, patients: number, emit: Emit): PopulationContext {
  const seedHash = hashSeed(`flatfhir:${String(seed)}`);
  const tag = seedHash[0].toString(16).padStart(8, '0');
  const pool = createPool(Rng.derive(seedHash, 0), tag, patients, emit);
  return { tag, seedHash, pool };
}

/** Generates the population in memory (for tests and small N). */
export function generateResources(seed: string | number, patients: number): FhirResource[] {
  const resources: FhirResource[] = [];
  const emit = (r: FhirResource): void => {
    resources.push(r);
  };
  const ctx = createPopulation(seed, patients, emit);
  for (let i = 0; i < patients; i++) generatePatientResources(ctx, i, emit);
  return resources;
}

/**
 * Writes a deterministic synthetic US Core R4 population as one NDJSON file per resource type. The same seed
 * and patient count always give byte-identical files; memory stays flat whatever the count, as patients are
 * generated one at a time and written through bounded buffers with backpressure.
 */
export async function generatePopulation(options: GenerateOptions): Promise<GenerateResult> {
  const { patients, seed, out, onProgress } = options;
  if (!Number.isSafeInteger(patients) || patients < 0) throw new RangeError(`patients must be a non-negative integer, got ${patients}`);
  await mkdir(out, { recursive: true });
  const writer = new NdjsonWriter(out, SYNTHETIC_TYPES);
  try {
    const ctx = createPopulation(seed, patients, writer.add);
    for (let i = 0; i < patients; i++) {
      generatePatientResources(ctx, i, writer.add);
      await writer.flush();
      onProgress?.(i + 1, patients);
    }
    await writer.close();
  } catch (err) {
    writer.destroy();
    throw err;
  }
  return { counts: writer.counts() };
}
