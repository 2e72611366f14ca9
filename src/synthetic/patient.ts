/**
 * One synthetic patient's clinical history: demographics, related people, coverage, allergies, chronic
 * problems with their goals, care plans and devices, then a chronological series of encounters with vitals,
 * labs, diagnoses, medications, procedures, immunizations, reports, notes (DocumentReference + Binary) and
 * Provenance. Each clinical domain is a module of `domains/`; its codes and value tables are in `vocabulary/`.
 */
import { allergies } from './domains/allergies.js';
import { careTeam, goalsAndCarePlans } from './domains/care.js';
import { chronicConditions } from './domains/conditions.js';
import { coverage } from './domains/coverage.js';
import { patient, relatedPersons } from './domains/demographics.js';
import { devices } from './domains/devices.js';
import { encounters } from './domains/encounters.js';
import { type Emit, PatientRecord, type PopulationContext } from './domains/record.js';
import { Rng } from './random.js';

export { type Emit, type PopulationContext, REFERENCE_DATE } from './domains/record.js';

/**
 * Emits every resource of patient `index` (0-based) of the population: the Patient first, then the rest in
 * chronological order of their history. Deterministic in (seed, index, pool).
 */
export function generatePatientResources(ctx: PopulationContext, index: number, emit: Emit): void {
  const p = new PatientRecord(ctx, index, Rng.derive(ctx.seedHash, index + 1), emit);
  patient(p);
  relatedPersons(p);
  coverage(p);
  allergies(p);
  chronicConditions(p);
  careTeam(p);
  goalsAndCarePlans(p);
  devices(p);
  encounters(p);
}
