/**
 * What the domains of one patient's history share: who the patient is, the random stream every draw comes
 * from (in a fixed order: the same seed gives the same bytes), the sink resources are emitted to, and the state
 * one domain leaves for another (conditions set lab means and blood pressure; demographics the related people).
 */
import type { FhirResource } from '../../fhir/resource.js';
import type { Rng } from '../random.js';
import type { Facility, Pool, PractitionerInfo } from '../common.js';
import type { CodeableConcept } from '../vocabulary/codes.js';
import type { ChronicCondition } from '../vocabulary/conditions.js';
import type { EncounterKind } from '../vocabulary/encounters.js';
import type { Vaccine } from '../vocabulary/immunizations.js';
import { ref } from './format.js';

export type Emit = (resource: FhirResource) => void;

/** Every date is drawn relative to this instant (2026-01-01T00:00:00Z); nothing reads the clock. */
export const REFERENCE_DATE = Date.UTC(2026, 0, 1);
export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const YEAR = 365.2425 * DAY;
/** Encounters are drawn from this many years before the reference date (or from birth). */
export const HISTORY_YEARS = 10;

/** What a patient's resources need from the population. */
export interface PopulationContext {
  /** Short seed-derived prefix of every id, so populations of different seeds never collide. */
  tag: string;
  seedHash: readonly [number, number, number, number];
  pool: Pool;
}

export interface ChronicState {
  def: ChronicCondition;
  ref: string;
  onset: number;
}

export interface Visit {
  kind: EncounterKind;
  ref: string;
  start: number;
  end: number;
  startText: string;
  endText: string;
  facility: Facility;
  practitioner: PractitionerInfo;
  locationRef: string;
  /** Condition diagnosed or followed up at this visit. */
  reason?: { ref: string; code: CodeableConcept };
  vitals?: string;
  findings: string[];
  plan: string[];
}

function ageBand(age: number): 0 | 1 | 2 | 3 {
  return age < 18 ? 0 : age < 40 ? 1 : age < 65 ? 2 : 3;
}

export class PatientRecord {
  private seq = 0;
  readonly id: string;
  readonly ref: string;
  readonly subject: { reference: string };
  readonly birth: number;
  /** The end of the record: the reference date, or the date of death. */
  readonly end: number;
  readonly female: boolean;
  /** Age band today: <18, 18-39, 40-64, 65+. */
  readonly band: 0 | 1 | 2 | 3;
  readonly home: Facility;
  readonly pcp: PractitionerInfo;
  readonly chronic: ChronicState[] = [];
  readonly relatedRefs: string[] = [];
  spouseRef: string | undefined;
  readonly labMeans = new Map<string, number>();
  readonly vaccinesGiven = new Set<Vaccine>();
  careTeamRef = '';
  name = '';
  mrn = '';
  /** Adult height (cm) and body mass index. */
  adultHeight = 170;
  bmi = 24;
  systolic = 118;
  diastolic = 76;

  constructor(
    readonly ctx: PopulationContext,
    index: number,
    readonly rng: Rng,
    readonly emit: Emit,
  ) {
    this.id = `${ctx.tag}-p${String(index).padStart(6, '0')}`;
    this.ref = `Patient/${this.id}`;
    this.subject = ref(this.ref);
    const band = rng.weighted<readonly [number, number]>([
      [[0, 18], 22],
      [[18, 40], 28],
      [[40, 65], 32],
      [[65, 96], 18],
    ]);
    const age = rng.real(band[0], band[1]);
    this.band = ageBand(age);
    this.birth = Math.floor((REFERENCE_DATE - age * YEAR) / DAY) * DAY;
    this.end = age >= 70 && rng.chance(0.06) ? REFERENCE_DATE - Math.floor(rng.real(30, 3 * 365)) * DAY : REFERENCE_DATE;
    this.female = rng.chance(0.51);
    this.home = rng.pick(ctx.pool.facilities);
    this.pcp = rng.pick(this.home.practitioners);
  }

  /** The next id of this patient's resources (`{patient id}-{n}`). */
  nextId(): string {
    this.seq++;
    return `${this.id}-${this.seq}`;
  }

  ageAt(t: number): number {
    return (t - this.birth) / YEAR;
  }

  /** A minute-aligned instant uniformly in [from, to]. */
  between(from: number, to: number): number {
    return Math.floor(this.rng.real(from, Math.max(from, to)) / MINUTE) * MINUTE;
  }
}
