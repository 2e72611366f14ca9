/**
 * One synthetic patient's clinical history: demographics, related people, coverage, allergies, chronic
 * problems with their goals, care plans and devices, then a chronological series of encounters with vitals,
 * labs, diagnoses, medications, procedures, immunizations, reports, notes (DocumentReference + Binary) and
 * Provenance.
 */
import type { FhirResource } from '../fhir/resource.js';
import { ALLERGIES, ALLERGY_STATUS, NO_KNOWN_ALLERGY } from './vocabulary/allergies.js';
import { CARE_TEAM_ROLE, CAREPLAN_ASSESS_PLAN, GOAL_ACHIEVED, GOAL_IN_PROGRESS } from './vocabulary/care.js';
import { type CodeableConcept, concept, IDENTIFIER_TYPE, SNOMED, UCUM } from './vocabulary/codes.js';
import { ACUTE_CONDITIONS, type AcuteCondition, CHRONIC_CONDITIONS, type ChronicCondition, CONDITION, EMERGENCY_CONDITIONS, INPATIENT_CONDITIONS } from './vocabulary/conditions.js';
import { COVERAGE_CLASS_GROUP, COVERAGE_TYPES, SUBSCRIBER_CHILD, SUBSCRIBER_SELF, SUBSCRIBER_SPOUSE } from './vocabulary/coverage.js';
import { BIRTH_SEX, CITIES, ETHNICITY_HISPANIC, ETHNICITY_NOT_HISPANIC, FAMILY_NAMES, FEMALE_NAMES, LANGUAGES, MALE_NAMES, MARITAL_STATUS, RACES, RELATIONSHIP } from './vocabulary/demographics.js';
import { DOCUMENT_CATEGORY, DOCUMENT_CONTENT_TYPES, DOCUMENT_FORMAT } from './vocabulary/documents.js';
import { DISCHARGE_HOME, ENCOUNTER_KINDS, type EncounterKind, PARTICIPANT_ATTENDER, PARTICIPANT_PRIMARY } from './vocabulary/encounters.js';
import { COVID_VACCINE, FLU_VACCINE, ROUTINE_VACCINES, type Vaccine } from './vocabulary/immunizations.js';
import { DISPENSE_FIRST_FILL, DISPENSE_REFILL, MED_REQUEST_CATEGORY, type Medication } from './vocabulary/medications.js';
import { INTERPRETATION_HIGH, INTERPRETATION_LOW, INTERPRETATION_NORMAL, LAB_PANELS, type LabPanelKey, NOTE_REPORTS, type NoteReportKey, OBS_LABORATORY, OBS_VITAL_SIGNS, REPORT_CATEGORY_LAB, SERVICE_CATEGORY_IMAGING, SERVICE_CATEGORY_LAB, VITALS } from './vocabulary/observations.js';
import { PROCEDURES } from './vocabulary/procedures.js';
import { META } from './vocabulary/profiles.js';
import { ACTIVITY_CREATE, ACTIVITY_UPDATE, PROVENANCE_AUTHOR } from './vocabulary/provenance.js';
import { base64, renderNote } from './documents.js';
import { Rng } from './random.js';
import { address, type Facility, type Pool, type PractitionerInfo, phone } from './shared.js';

export type Emit = (resource: FhirResource) => void;

/** Every date is drawn relative to this instant (2026-01-01T00:00:00Z); nothing reads the clock. */
export const REFERENCE_DATE = Date.UTC(2026, 0, 1);
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const YEAR = 365.2425 * DAY;
/** Encounters are drawn from this many years before the reference date (or from birth). */
const HISTORY_YEARS = 10;
const MAX_ENCOUNTERS = 600;

/** What a patient's resources need from the population. */
export interface PopulationContext {
  /** Short seed-derived prefix of every id, so populations of different seeds never collide. */
  tag: string;
  seedHash: readonly [number, number, number, number];
  pool: Pool;
}

const instant = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;
const dateOnly = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const POW10 = [1, 10, 100, 1000];
const round = (x: number, decimals: number): number => {
  const f = POW10[decimals] ?? 1;
  return Math.round(x * f) / f;
};
/** A concept's text without the SNOMED semantic tag, for note prose: "Viral sinusitis (disorder)" → "Viral sinusitis". */
const label = (c: CodeableConcept): string => (c.text ?? '').replace(/ \([a-z/ ]+\)$/, '');
const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);
const ref = (reference: string): { reference: string } => ({ reference });
const quantity = (value: number, unit: string, code: string = unit): object => ({ value, unit, system: UCUM, code });
const days = (value: number): object => ({ value, unit: 'days', system: UCUM, code: 'd' });

/** Content types of the (inline) presentedForm of imaging and ECG reports. */
const REPORT_FORM_TYPES: readonly (readonly [string, number])[] = [
  ['text/html', 50],
  ['text/plain', 30],
  ['application/pdf', 20],
];

interface ChronicState {
  def: ChronicCondition;
  ref: string;
  onset: number;
}

interface Visit {
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

class PatientHistory {
  private seq = 0;
  private readonly id: string;
  private readonly ref: string;
  private readonly subject: { reference: string };
  private readonly birth: number;
  private readonly end: number;
  private readonly female: boolean;
  private readonly band: 0 | 1 | 2 | 3;
  private readonly home: Facility;
  private readonly pcp: PractitionerInfo;
  private readonly chronic: ChronicState[] = [];
  private readonly relatedRefs: string[] = [];
  private spouseRef: string | undefined;
  private readonly labMeans = new Map<string, number>();
  private readonly vaccinesGiven = new Set<Vaccine>();
  private careTeamRef = '';
  private name = '';
  private mrn = '';
  /** Adult height (cm) and body mass index. */
  private adultHeight = 170;
  private bmi = 24;
  private systolic = 118;
  private diastolic = 76;

  constructor(
    private readonly ctx: PopulationContext,
    index: number,
    private readonly rng: Rng,
    private readonly emit: Emit,
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

  private nextId(): string {
    this.seq++;
    return `${this.id}-${this.seq}`;
  }

  private ageAt(t: number): number {
    return (t - this.birth) / YEAR;
  }

  /** A minute-aligned instant uniformly in [from, to]. */
  private between(from: number, to: number): number {
    return Math.floor(this.rng.real(from, Math.max(from, to)) / MINUTE) * MINUTE;
  }

  run(): void {
    this.patient();
    this.relatedPersons();
    this.coverage();
    this.allergies();
    this.chronicConditions();
    this.careTeam();
    this.goalsAndCarePlans();
    this.devices();
    this.encounters();
  }

  // ------------------------------------------------------------ demographics

  private patient(): void {
    const rng = this.rng;
    const c = rng.pick(CITIES);
    const given = rng.pick(this.female ? FEMALE_NAMES : MALE_NAMES);
    const middle = rng.pick(this.female ? FEMALE_NAMES : MALE_NAMES);
    const family = rng.pick(FAMILY_NAMES);
    this.name = `${given} ${family}`;
    this.mrn = rng.digits(8);
    const hispanic = rng.chance(0.18);
    const race = rng.weighted(RACES);
    const married = this.band >= 1 && rng.chance(this.band === 1 ? 0.4 : 0.6);
    const language =
      hispanic && rng.chance(0.3) ? LANGUAGES.spanish : rng.chance(0.03) ? rng.pick([LANGUAGES.chinese, LANGUAGES.vietnamese]) : LANGUAGES.english;
    const adult = this.band >= 1;
    this.adultHeight = this.female ? rng.normal(163, 6) : rng.normal(176, 7);
    this.bmi = rng.chance(0.35) ? rng.real(30, 40) : rng.real(19.5, 29.5);
    const resource: FhirResource = {
      resourceType: 'Patient',
      id: this.id,
      meta: META.patient,
      extension: [race, hispanic ? ETHNICITY_HISPANIC : ETHNICITY_NOT_HISPANIC, this.female ? BIRTH_SEX.female : BIRTH_SEX.male],
      identifier: [
        { use: 'usual', type: IDENTIFIER_TYPE.MR, system: 'https://flatfhir.example.org/sid/mrn', value: this.mrn },
        ...(adult ? [{ use: 'official', type: IDENTIFIER_TYPE.SS, system: 'http://hl7.org/fhir/sid/us-ssn', value: `999-${rng.digits(2)}-${rng.digits(4)}` }] : []),
      ],
      active: true,
      name: [
        {
          use: 'official',
          family,
          given: adult ? [given, middle] : [given],
          ...(adult ? { prefix: [this.female ? (married ? 'Mrs.' : 'Ms.') : 'Mr.'] } : {}),
        },
      ],
      telecom: [
        { system: 'phone', value: phone(rng, c.areaCode), use: rng.chance(0.7) ? 'mobile' : 'home' },
        ...(adult ? [{ system: 'email', value: `${given}.${family}${rng.digits(3)}@example.com`.toLowerCase() }] : []),
      ],
      gender: this.female ? 'female' : 'male',
      birthDate: dateOnly(this.birth),
      ...(this.end < REFERENCE_DATE ? { deceasedDateTime: instant(this.end) } : { deceasedBoolean: false }),
      address: [address(rng, c, 'home')],
      maritalStatus: married ? MARITAL_STATUS.married : this.band === 3 && rng.chance(0.4) ? MARITAL_STATUS.widowed : MARITAL_STATUS.single,
      multipleBirthBoolean: rng.chance(0.02),
      communication: [language],
      generalPractitioner: [ref(this.pcp.ref)],
      managingOrganization: ref(this.home.orgRef),
    };
    this.emit(resource);
  }

  private relatedPersons(): void {
    const rng = this.rng;
    const people: CodeableConcept[] = [];
    if (this.band === 0) {
      people.push(RELATIONSHIP.mother);
      if (rng.chance(0.6)) people.push(RELATIONSHIP.father);
    } else if (this.band === 3) {
      people.push(rng.chance(0.7) ? RELATIONSHIP.child : RELATIONSHIP.spouse);
    } else {
      people.push(rng.pick([RELATIONSHIP.spouse, RELATIONSHIP.sibling, RELATIONSHIP.friend]));
      if (rng.chance(0.2)) people.push(RELATIONSHIP.sibling);
    }
    for (const relationship of people) {
      const id = this.nextId();
      const female = relationship === RELATIONSHIP.mother ? true : relationship === RELATIONSHIP.father ? false : rng.chance(0.5);
      const c = rng.pick(CITIES);
      const given = rng.pick(female ? FEMALE_NAMES : MALE_NAMES);
      const family = rng.pick(FAMILY_NAMES);
      this.relatedRefs.push(`RelatedPerson/${id}`);
      if (relationship === RELATIONSHIP.spouse) this.spouseRef ??= `RelatedPerson/${id}`;
      this.emit({
        resourceType: 'RelatedPerson',
        id,
        meta: META.relatedPerson,
        active: true,
        patient: this.subject,
        relationship: [relationship, RELATIONSHIP.emergencyContact],
        name: [{ use: 'official', family, given: [given] }],
        telecom: [{ system: 'phone', value: phone(rng, c.areaCode), use: 'mobile' }],
        gender: female ? 'female' : 'male',
        address: [address(rng, c, 'home')],
      });
    }
  }

  private coverage(): void {
    const rng = this.rng;
    const payers = this.ctx.pool.payers;
    const privatePayers = payers.filter((p) => p.kind === 'private');
    const medicare = payers.find((p) => p.kind === 'medicare');
    const medicaid = payers.find((p) => p.kind === 'medicaid');
    const sixtyFive = this.birth + 65 * YEAR;
    const historyStart = Math.max(this.birth, REFERENCE_DATE - HISTORY_YEARS * YEAR);
    const plans: { type: CodeableConcept; payor: string; start: number; end?: number; dependent: boolean; group?: string }[] = [];
    if (this.band === 3 && medicare) {
      const start = Math.max(sixtyFive, this.birth);
      plans.push({ type: COVERAGE_TYPES.medicare, payor: medicare.ref, start, dependent: false });
      if (sixtyFive > historyStart) {
        const payer = rng.pick(privatePayers);
        plans.unshift({ type: COVERAGE_TYPES.private, payor: payer.ref, start: historyStart, end: sixtyFive, dependent: false, group: payer.name });
      }
    } else if (rng.chance(this.band === 0 ? 0.35 : 0.15) && medicaid) {
      plans.push({ type: COVERAGE_TYPES.medicaid, payor: medicaid.ref, start: historyStart, dependent: false });
    } else if (rng.chance(0.08)) {
      plans.push({ type: COVERAGE_TYPES.selfPay, payor: this.ref, start: historyStart, dependent: false });
    } else {
      const payer = rng.pick(privatePayers);
      const dependent = this.band === 0 || (this.spouseRef !== undefined && rng.chance(0.3));
      if (rng.chance(0.4)) {
        const switchAt = this.between(historyStart + YEAR, REFERENCE_DATE - YEAR);
        const previous = rng.pick(privatePayers);
        plans.push({ type: COVERAGE_TYPES.private, payor: previous.ref, start: historyStart, end: switchAt, dependent, group: previous.name });
        plans.push({ type: COVERAGE_TYPES.private, payor: payer.ref, start: switchAt, dependent, group: payer.name });
      } else {
        plans.push({ type: COVERAGE_TYPES.private, payor: payer.ref, start: historyStart, dependent, group: payer.name });
      }
    }
    for (const plan of plans) {
      const id = this.nextId();
      const subscriber = plan.dependent ? (this.band === 0 ? this.relatedRefs[0] : this.spouseRef) : undefined;
      const member = `${rng.hex(3).toUpperCase()}${rng.digits(9)}`;
      const ended = plan.end !== undefined && plan.end < this.end;
      this.emit({
        resourceType: 'Coverage',
        id,
        meta: META.coverage,
        identifier: [{ type: IDENTIFIER_TYPE.MB, system: 'https://flatfhir.example.org/sid/member', value: member }],
        status: 'active',
        type: plan.type,
        ...(subscriber ? { subscriber: ref(subscriber) } : {}),
        subscriberId: member,
        beneficiary: this.subject,
        relationship: subscriber ? (this.band === 0 ? SUBSCRIBER_CHILD : SUBSCRIBER_SPOUSE) : SUBSCRIBER_SELF,
        period: ended ? { start: dateOnly(plan.start), end: dateOnly(plan.end as number) } : { start: dateOnly(plan.start) },
        payor: [ref(plan.payor)],
        ...(plan.group ? { class: [{ type: COVERAGE_CLASS_GROUP, value: `GRP-${rng.digits(5)}`, name: `${plan.group} Group` }] } : {}),
      });
    }
  }

  private allergies(): void {
    const rng = this.rng;
    const count = rng.weighted([
      [0, 45],
      [1, 30],
      [2, 15],
      [3, 7],
      [4, 3],
    ]);
    const recordedBase = Math.max(this.birth + 180 * DAY, REFERENCE_DATE - HISTORY_YEARS * YEAR);
    if (count === 0) {
      const recorded = this.between(recordedBase, this.end);
      this.emit({
        resourceType: 'AllergyIntolerance',
        id: this.nextId(),
        meta: META.allergy,
        clinicalStatus: ALLERGY_STATUS.active,
        verificationStatus: ALLERGY_STATUS.confirmed,
        code: NO_KNOWN_ALLERGY,
        patient: this.subject,
        recordedDate: instant(recorded),
        recorder: ref(this.pcp.ref),
      });
      return;
    }
    const seen = new Set<number>();
    for (let i = 0; i < count; i++) {
      const k = rng.int(0, ALLERGIES.length - 1);
      if (seen.has(k)) continue;
      seen.add(k);
      const allergy = ALLERGIES[k];
      if (!allergy) continue;
      const recorded = this.between(recordedBase, this.end);
      const severe = rng.chance(0.15);
      this.emit({
        resourceType: 'AllergyIntolerance',
        id: this.nextId(),
        meta: META.allergy,
        clinicalStatus: ALLERGY_STATUS.active,
        verificationStatus: rng.chance(0.9) ? ALLERGY_STATUS.confirmed : ALLERGY_STATUS.unconfirmed,
        type: 'allergy',
        category: [allergy.category],
        criticality: severe ? 'high' : 'low',
        code: allergy.code,
        patient: this.subject,
        onsetDateTime: instant(this.between(this.birth, recorded)),
        recordedDate: instant(recorded),
        recorder: ref(this.pcp.ref),
        reaction: [{ manifestation: [rng.pick(allergy.reactions)], severity: severe ? 'severe' : rng.chance(0.6) ? 'mild' : 'moderate' }],
      });
    }
  }

  // ------------------------------------------------------------ problems, goals, care plans, devices

  private chronicConditions(): void {
    const rng = this.rng;
    for (const def of CHRONIC_CONDITIONS) {
      if (def.key === 'obesity' ? this.bmi < 30 : !rng.chance(def.prevalence[this.band])) continue;
      const earliest = Math.max(this.birth + (this.band === 0 ? 2 : 18) * YEAR, REFERENCE_DATE - 25 * YEAR);
      const onset = this.between(Math.min(earliest, this.end - 60 * DAY), this.end - 30 * DAY);
      const recorded = Math.min(this.end, onset + this.between(0, 30 * DAY));
      const id = this.nextId();
      const conditionRef = `Condition/${id}`;
      this.chronic.push({ def, ref: conditionRef, onset });
      this.emit({
        resourceType: 'Condition',
        id,
        meta: META.problem,
        clinicalStatus: CONDITION.active,
        verificationStatus: CONDITION.confirmed,
        category: CONDITION.problemList,
        code: def.code,
        subject: this.subject,
        onsetDateTime: instant(onset),
        recordedDate: instant(recorded),
        recorder: ref(this.pcp.ref),
        asserter: ref(this.pcp.ref),
      });
      this.provenance(conditionRef, recorded, this.pcp.ref, this.home.orgRef, 0.35);
      switch (def.key) {
        case 'diabetes':
          this.labMeans.set('4548-4', rng.real(6.8, 9.5));
          this.labMeans.set('2345-7', rng.real(130, 220));
          break;
        case 'hyperlipidemia':
          this.labMeans.set('18262-6', rng.real(130, 190));
          this.labMeans.set('2093-3', rng.real(210, 280));
          break;
        case 'ckd':
          this.labMeans.set('2160-0', rng.real(1.5, 2.6));
          this.labMeans.set('3094-0', rng.real(24, 40));
          break;
        case 'hypertension':
          this.systolic = rng.real(135, 160);
          this.diastolic = rng.real(85, 98);
          break;
      }
    }
  }

  private careTeam(): void {
    const rng = this.rng;
    const id = this.nextId();
    this.careTeamRef = `CareTeam/${id}`;
    const participants: object[] = [
      { role: CARE_TEAM_ROLE.patient, member: this.subject },
      { role: CARE_TEAM_ROLE.professional, member: ref(this.pcp.ref), onBehalfOf: ref(this.home.orgRef) },
    ];
    if (this.chronic.length > 1 || rng.chance(0.3)) {
      const other = rng.pick(this.ctx.pool.facilities);
      participants.push({ role: CARE_TEAM_ROLE.professional, member: ref(rng.pick(other.practitioners).ref), onBehalfOf: ref(other.orgRef) });
    }
    const caregiver = this.relatedRefs[0];
    if (caregiver && (this.band === 0 || this.band === 3)) participants.push({ role: CARE_TEAM_ROLE.caregiver, member: ref(caregiver) });
    participants.push({ role: CARE_TEAM_ROLE.organization, member: ref(this.home.orgRef) });
    this.emit({
      resourceType: 'CareTeam',
      id,
      meta: META.careTeam,
      status: 'active',
      name: `Primary care team of ${this.name}`,
      subject: this.subject,
      period: { start: dateOnly(Math.max(this.birth, REFERENCE_DATE - HISTORY_YEARS * YEAR)) },
      participant: participants,
      managingOrganization: [ref(this.home.orgRef)],
    });
  }

  private goal(description: string, start: number, addresses: string | undefined, measure?: CodeableConcept, target?: object): string {
    const rng = this.rng;
    const id = this.nextId();
    const achieved = rng.chance(0.25);
    const due = start + rng.int(90, 720) * DAY;
    this.emit({
      resourceType: 'Goal',
      id,
      meta: META.goal,
      lifecycleStatus: achieved ? 'completed' : 'active',
      achievementStatus: achieved ? GOAL_ACHIEVED : GOAL_IN_PROGRESS,
      description: { text: description },
      subject: this.subject,
      startDate: dateOnly(start),
      target: [{ ...(measure ? { measure } : {}), ...(target ? { detailQuantity: target } : {}), dueDate: dateOnly(due) }],
      expressedBy: ref(this.pcp.ref),
      ...(addresses ? { addresses: [ref(addresses)] } : {}),
    });
    return `Goal/${id}`;
  }

  private carePlan(category: CodeableConcept, activities: readonly CodeableConcept[], start: number, condition: string | undefined, goals: string[], conditionText: string): void {
    const id = this.nextId();
    const items = activities.map((a) => `<li>${a.text ?? ''}</li>`).join('');
    this.emit({
      resourceType: 'CarePlan',
      id,
      meta: META.carePlan,
      text: {
        status: 'generated',
        div: `<div xmlns="http://www.w3.org/1999/xhtml">Care Plan for ${category.text ?? ''}.<br/>Activities: <ul>${items}</ul>Care plan is meant to treat ${conditionText}.</div>`,
      },
      status: 'active',
      intent: 'plan',
      category: [CAREPLAN_ASSESS_PLAN, category],
      subject: this.subject,
      period: { start: instant(start) },
      careTeam: [ref(this.careTeamRef)],
      ...(condition ? { addresses: [ref(condition)] } : {}),
      ...(goals.length > 0 ? { goal: goals.map(ref) } : {}),
      activity: activities.map((code) => ({
        detail: { code, status: 'in-progress', location: ref(this.home.clinicRef), performer: [ref(this.pcp.ref)] },
      })),
    });
  }

  private goalsAndCarePlans(): void {
    const start = Math.max(this.birth, REFERENCE_DATE - HISTORY_YEARS * YEAR);
    const general = this.goal(
      this.band === 0 ? 'Maintain age-appropriate growth and development' : 'Increase physical activity to 150 minutes per week',
      this.between(start, this.end),
      undefined,
    );
    this.carePlan(
      concept(SNOMED, '734163000', 'Care plan (record artifact)', 'Health maintenance'),
      [concept(SNOMED, '226234005', 'Healthy diet (finding)'), concept(SNOMED, '229065009', 'Exercise therapy (regime/therapy)')],
      this.between(start, this.end),
      undefined,
      [general],
      'health maintenance',
    );
    for (const c of this.chronic) {
      const goals: string[] = [];
      const t = Math.max(c.onset, start);
      if (c.def.goal) goals.push(this.goal(c.def.goal.description, t, c.ref, c.def.goal.measure, c.def.goal.target));
      if (c.def.carePlan) this.carePlan(c.def.carePlan.category, c.def.carePlan.activities, t, c.ref, goals, c.def.code.text ?? '');
    }
  }

  private device(code: CodeableConcept, implantable: boolean, implanted: number): void {
    const rng = this.rng;
    const di = `0${rng.digits(13)}`;
    const made = implanted - rng.int(30, 400) * DAY;
    const expires = made + rng.int(8, 15) * 365 * DAY;
    const yymmdd = (ms: number): string => dateOnly(ms).slice(2).replace(/-/g, '');
    const lot = `${rng.hex(2).toUpperCase()}${rng.digits(4)}`;
    const serial = `${rng.hex(4).toUpperCase()}${rng.digits(6)}`;
    this.emit({
      resourceType: 'Device',
      id: this.nextId(),
      ...(implantable ? { meta: META.implantableDevice } : {}),
      udiCarrier: [{ deviceIdentifier: di, carrierHRF: `(01)${di}(11)${yymmdd(made)}(17)${yymmdd(expires)}(10)${lot}(21)${serial}` }],
      status: 'active',
      distinctIdentifier: serial,
      manufactureDate: instant(made),
      expirationDate: instant(expires),
      lotNumber: lot,
      serialNumber: serial,
      deviceName: [{ name: code.text ?? '', type: 'user-friendly-name' }],
      type: code,
      patient: this.subject,
    });
  }

  private devices(): void {
    const rng = this.rng;
    for (const c of this.chronic) {
      const d = c.def.device;
      if (d && rng.chance(d.probability)) this.device(d.code, d.implantable, this.between(c.onset, this.end));
    }
    if (this.band === 3) {
      const start = Math.max(this.birth + 65 * YEAR, REFERENCE_DATE - HISTORY_YEARS * YEAR);
      if (rng.chance(0.2)) this.device(concept(SNOMED, '6012004', 'Hearing aid, device (physical object)'), false, this.between(start, this.end));
      if (rng.chance(0.1)) this.device(concept(SNOMED, '87405001', 'Cane, device (physical object)'), false, this.between(start, this.end));
    }
  }

  // ------------------------------------------------------------ provenance

  /** One Provenance (CREATE) for `target`, and with probability `revised` one or two later revisions. */
  private provenance(target: string, recorded: number, who: string, onBehalfOf: string, revised: number): void {
    this.provenanceOne(target, recorded, who, onBehalfOf, ACTIVITY_CREATE);
    if (!this.rng.chance(revised)) return;
    let t = recorded;
    const revisions = this.rng.chance(0.3) ? 2 : 1;
    for (let i = 0; i < revisions; i++) {
      t += this.between(HOUR, 60 * DAY);
      if (t > REFERENCE_DATE) break;
      this.provenanceOne(target, t, who, onBehalfOf, ACTIVITY_UPDATE);
    }
  }

  private provenanceOne(target: string, recorded: number, who: string, onBehalfOf: string, activity: CodeableConcept): void {
    this.emit({
      resourceType: 'Provenance',
      id: this.nextId(),
      meta: META.provenance,
      target: [ref(target)],
      recorded: instant(recorded),
      activity,
      agent: [{ type: PROVENANCE_AUTHOR, who: ref(who), onBehalfOf: ref(onBehalfOf) }],
    });
  }

  // ------------------------------------------------------------ encounters

  private encounters(): void {
    const rng = this.rng;
    const mult = [0.8, 0.75, 1, 1.5][this.band] as number;
    let count = Math.exp(1.7 + 0.85 * rng.normal(0, 1)) * mult;
    if (rng.chance(0.02)) count *= rng.real(3, 8);
    const n = Math.min(MAX_ENCOUNTERS, Math.round(count) + this.chronic.length + 1);
    const from = Math.max(this.birth + DAY, REFERENCE_DATE - HISTORY_YEARS * YEAR);
    const to = this.end - 8 * HOUR;
    const times: number[] = [];
    for (let i = 0; i < n; i++) times.push(this.between(from, to));
    times.sort((a, b) => a - b);
    for (const t of times) this.encounter(t);
  }

  private encounter(start: number): void {
    const rng = this.rng;
    const active = this.chronic.filter((c) => c.onset <= start);
    const kind = ENCOUNTER_KINDS[
      rng.weighted<EncounterKind['key']>([
        ['wellness', this.band === 0 ? 45 : 25],
        ['followup', active.length > 0 ? 15 + 6 * active.length : 0],
        ['acute', 25],
        ['emergency', 6],
        ['inpatient', this.band === 3 ? 5 : 2],
        ['virtual', 7],
      ])
    ];
    const hospital = kind.key === 'emergency' || kind.key === 'inpatient';
    const facility = hospital && rng.chance(0.4) ? rng.pick(this.ctx.pool.facilities) : this.home;
    const practitioner = !hospital && rng.chance(0.8) ? this.pcp : rng.pick(facility.practitioners);
    const duration =
      kind.key === 'inpatient'
        ? rng.int(1, 6) * DAY + rng.int(0, 12) * HOUR
        : kind.key === 'emergency'
          ? rng.int(2, 8) * HOUR
          : rng.int(15, kind.key === 'wellness' ? 60 : 40) * MINUTE;
    const end = Math.min(start + duration, Math.max(start + MINUTE, this.end));
    const id = this.nextId();
    const visit: Visit = {
      kind,
      ref: `Encounter/${id}`,
      start,
      end,
      startText: instant(start),
      endText: instant(end),
      facility,
      practitioner,
      locationRef: hospital ? facility.hospitalRef : facility.clinicRef,
      findings: [],
      plan: [],
    };

    switch (kind.key) {
      case 'wellness':
        this.wellness(visit, active);
        break;
      case 'followup':
        this.followup(visit, active);
        break;
      case 'acute':
        this.acute(visit, ACUTE_CONDITIONS, 0.15, 0);
        break;
      case 'emergency':
        this.acute(visit, EMERGENCY_CONDITIONS, 0.6, 0.5);
        break;
      case 'inpatient':
        this.inpatient(visit);
        break;
      case 'virtual':
        this.virtual(visit, active);
        break;
    }

    const period = { start: visit.startText, end: visit.endText };
    const participant: object[] = [{ type: PARTICIPANT_PRIMARY, period, individual: ref(practitioner.ref) }];
    if (kind.key === 'inpatient') {
      participant.push({ type: PARTICIPANT_ATTENDER, period, individual: ref(rng.pick(facility.practitioners).ref) });
    }
    const reason = visit.reason;
    this.emit({
      resourceType: 'Encounter',
      id,
      meta: META.encounter,
      identifier: [{ use: 'usual', system: 'https://flatfhir.example.org/sid/encounter', value: id }],
      status: 'finished',
      class: kind.cls,
      type: kind.type,
      subject: this.subject,
      participant,
      period,
      ...(reason ? { reasonCode: [reason.code], diagnosis: [{ condition: ref(reason.ref), rank: 1 }] } : {}),
      ...(kind.key === 'inpatient' ? { hospitalization: { dischargeDisposition: DISCHARGE_HOME } } : {}),
      location: [{ location: ref(visit.locationRef), status: 'completed', period }],
      serviceProvider: ref(facility.orgRef),
    });
    this.provenance(visit.ref, end, practitioner.ref, facility.orgRef, 0.1);
    this.document(visit);
  }

  private wellness(visit: Visit, active: ChronicState[]): void {
    const rng = this.rng;
    const age = this.ageAt(visit.start);
    this.vitals(visit, true, false);
    if (age >= 18) {
      if (rng.chance(0.3)) this.labPanel(visit, 'lipid');
      if (rng.chance(0.3)) this.labPanel(visit, 'bmp');
      if (rng.chance(0.25)) this.labPanel(visit, 'cbc');
      if (rng.chance(0.2)) this.procedure(visit, PROCEDURES.depressionScreening);
      if (age >= 50 && age <= 75 && rng.chance(0.04)) this.procedure(visit, PROCEDURES.colonoscopy);
      if (this.female && age >= 40 && rng.chance(0.15)) this.procedure(visit, PROCEDURES.mammography);
    } else if (rng.chance(0.05)) {
      this.labPanel(visit, 'cbc');
    }
    const withMeds = active.filter((c) => c.def.meds.length > 0);
    if (withMeds.length > 0 && rng.chance(0.5)) this.procedure(visit, PROCEDURES.medicationReconciliation);
    for (const c of active) {
      if (c.def.lab === 'a1c' && rng.chance(0.8)) this.labPanel(visit, 'a1c');
      if (c.def.meds.length > 0 && rng.chance(0.4)) this.renewChronic(visit, c);
    }
    this.immunizations(visit, age);
    visit.findings.push('Routine health maintenance visit. No acute concerns.');
  }

  private followup(visit: Visit, active: ChronicState[]): void {
    const rng = this.rng;
    const c = rng.pick(active);
    visit.reason = { ref: c.ref, code: c.def.code };
    this.vitals(visit, rng.chance(0.5), false);
    if (c.def.lab && rng.chance(0.7)) this.labPanel(visit, c.def.lab);
    if ((c.def.key === 'asthma' || c.def.key === 'copd') && rng.chance(0.2)) this.procedure(visit, PROCEDURES.spirometry, c.ref);
    if (c.def.meds.length > 0) this.renewChronic(visit, c);
    for (const other of active) {
      if (other !== c && other.def.meds.length > 0 && rng.chance(0.15)) this.renewChronic(visit, other);
    }
    visit.findings.push(`Follow-up of ${label(c.def.code)}. Condition is ${rng.pick(['stable', 'improving', 'not at goal'])}.`);
  }

  private virtual(visit: Visit, active: ChronicState[]): void {
    const rng = this.rng;
    if (rng.chance(0.3)) {
      const diagnosis = this.diagnose(visit, ACUTE_CONDITIONS);
      const med = diagnosis.meds[0];
      if (med && rng.chance(0.6)) this.prescribe(visit, med, visit.reason?.ref, rng.int(5, 14), 1, false);
    } else {
      for (const c of active) if (c.def.meds.length > 0 && rng.chance(0.3)) this.renewChronic(visit, c);
      visit.findings.push('Telephone check-in. Patient reports no new concerns.');
    }
  }

  private acute(visit: Visit, table: readonly AcuteCondition[], labChance: number, panelChance: number): void {
    const rng = this.rng;
    const diagnosis = this.diagnose(visit, table);
    const sets = visit.kind.key === 'emergency' ? rng.int(1, 2) : 1;
    for (let i = 0; i < sets; i++) this.vitals(visit, false, true, visit.start + i * 90 * MINUTE);
    if (rng.chance(labChance)) this.labPanel(visit, 'cbc');
    if (rng.chance(panelChance)) this.labPanel(visit, 'bmp');
    if (diagnosis.procedure && rng.chance(0.7)) this.procedure(visit, diagnosis.procedure, visit.reason?.ref);
    if (diagnosis.report && rng.chance(0.6)) this.noteReport(visit, diagnosis.report);
    const med = diagnosis.meds[0];
    if (med && rng.chance(0.75)) this.prescribe(visit, med, visit.reason?.ref, rng.int(5, 14), rng.chance(0.3) ? 2 : 1, false);
  }

  private inpatient(visit: Visit): void {
    const rng = this.rng;
    const diagnosis = this.diagnose(visit, INPATIENT_CONDITIONS);
    const stay = Math.max(1, Math.round((visit.end - visit.start) / DAY));
    this.procedure(visit, PROCEDURES.peripheralLine, visit.reason?.ref);
    for (let d = 0; d < stay; d++) {
      const t = visit.start + d * DAY;
      const sets = rng.int(1, 3);
      for (let s = 0; s < sets; s++) this.vitals(visit, d === 0 && s === 0, true, t + s * 6 * HOUR);
      if (rng.chance(0.85)) this.labPanel(visit, 'cbc', t + 5 * HOUR);
      if (rng.chance(0.8)) this.labPanel(visit, 'bmp', t + 5 * HOUR);
    }
    if (diagnosis.procedure) this.procedure(visit, diagnosis.procedure, visit.reason?.ref);
    if (diagnosis.report && rng.chance(0.8)) this.noteReport(visit, diagnosis.report);
    for (const med of diagnosis.meds) {
      this.prescribe(visit, med, visit.reason?.ref, stay, 0, true);
      this.prescribe(visit, med, visit.reason?.ref, rng.int(7, 30), 1, false);
    }
  }

  /** Diagnoses an acute condition at the visit (encounter-diagnosis Condition + Provenance). */
  private diagnose(visit: Visit, table: readonly AcuteCondition[]): AcuteCondition {
    const rng = this.rng;
    let diagnosis = rng.weighted(table.map((c) => [c, c.weight] as const));
    if (diagnosis.notBefore !== undefined && visit.start < diagnosis.notBefore) diagnosis = table[0] as AcuteCondition;
    const id = this.nextId();
    const conditionRef = `Condition/${id}`;
    const abatement = visit.start + rng.int(diagnosis.days[0], diagnosis.days[1]) * DAY;
    const resolved = abatement < this.end;
    visit.reason = { ref: conditionRef, code: diagnosis.code };
    this.emit({
      resourceType: 'Condition',
      id,
      meta: META.encounterDiagnosis,
      clinicalStatus: resolved ? CONDITION.resolved : CONDITION.active,
      verificationStatus: rng.chance(0.9) ? CONDITION.confirmed : CONDITION.provisional,
      category: CONDITION.encounterDiagnosis,
      code: diagnosis.code,
      subject: this.subject,
      encounter: ref(visit.ref),
      onsetDateTime: visit.startText,
      ...(resolved ? { abatementDateTime: instant(abatement) } : {}),
      recordedDate: visit.startText,
      recorder: ref(visit.practitioner.ref),
      asserter: ref(visit.practitioner.ref),
    });
    this.provenance(conditionRef, visit.start + 10 * MINUTE, visit.practitioner.ref, visit.facility.orgRef, 0.35);
    visit.findings.push(`Assessment: ${label(diagnosis.code)}.`);
    return diagnosis;
  }

  // ------------------------------------------------------------ observations

  private vitalSign(visit: Visit, meta: { profile: string[] }, code: CodeableConcept, t: string, value: object): void {
    this.emit({
      resourceType: 'Observation',
      id: this.nextId(),
      meta,
      status: 'final',
      category: OBS_VITAL_SIGNS,
      code,
      subject: this.subject,
      encounter: ref(visit.ref),
      effectiveDateTime: t,
      issued: t,
      performer: [ref(visit.practitioner.ref)],
      ...value,
    });
  }

  /** A set of vital signs; `full` adds body measurements, `febrile` allows fever. */
  private vitals(visit: Visit, full: boolean, febrile: boolean, at: number = visit.start): void {
    const rng = this.rng;
    const t = at === visit.start ? visit.startText : instant(Math.min(at, visit.end));
    const age = this.ageAt(at);
    const child = age < 18;
    const hr = Math.round(rng.normal(child ? 95 - age * 1.5 : 72, 8));
    const systolic = Math.round(child ? rng.normal(100 + age, 6) : rng.normal(this.systolic, 8));
    const diastolic = Math.round(child ? rng.normal(62 + age / 2, 5) : rng.normal(this.diastolic, 6));
    const rr = Math.round(rng.normal(child ? 22 - age / 2 : 15, 2));
    const temp = round(rng.normal(febrile && rng.chance(0.4) ? 38.3 : 36.8, 0.3), 1);
    const spo2 = Math.round(clamp(rng.normal(97.5, 1.2), 88, 100));
    this.vitalSign(visit, META.heartRate, VITALS.heartRate, t, { valueQuantity: quantity(hr, '/min') });
    this.vitalSign(visit, META.bloodPressure, VITALS.bloodPressure, t, {
      component: [
        { code: VITALS.systolic, valueQuantity: quantity(systolic, 'mm[Hg]') },
        { code: VITALS.diastolic, valueQuantity: quantity(diastolic, 'mm[Hg]') },
      ],
    });
    this.vitalSign(visit, META.respiratoryRate, VITALS.respiratoryRate, t, { valueQuantity: quantity(rr, '/min') });
    this.vitalSign(visit, META.bodyTemperature, VITALS.bodyTemperature, t, { valueQuantity: quantity(temp, 'Cel') });
    this.vitalSign(visit, META.pulseOximetry, VITALS.oxygenSaturation, t, { valueQuantity: quantity(spo2, '%') });
    visit.vitals = `BP ${systolic}/${diastolic} mmHg, HR ${hr}/min, RR ${rr}/min, Temp ${temp} C, SpO2 ${spo2}%`;
    if (!full) return;
    const growth = child ? 0.29 + 0.71 * Math.sqrt(clamp(age, 0, 18) / 18) : 1;
    const height = round(this.adultHeight * growth + rng.normal(0, 0.4), 1);
    const bmi = child ? rng.normal(16.5, 1.2) : this.bmi + rng.normal(0, 0.6);
    const weight = round((bmi * height * height) / 10000, 1);
    const bmiValue = round((weight * 10000) / (height * height), 1);
    this.vitalSign(visit, META.bodyHeight, VITALS.bodyHeight, t, { valueQuantity: quantity(height, 'cm') });
    this.vitalSign(visit, META.bodyWeight, VITALS.bodyWeight, t, { valueQuantity: quantity(weight, 'kg') });
    this.vitalSign(visit, META.bmi, VITALS.bmi, t, { valueQuantity: quantity(bmiValue, 'kg/m2') });
    visit.vitals += `, Height ${height} cm, Weight ${weight} kg, BMI ${bmiValue}`;
  }

  /** ServiceRequest → lab Observations → DiagnosticReport (LAB). */
  private labPanel(visit: Visit, key: LabPanelKey, at: number = visit.start): void {
    const rng = this.rng;
    const panel = LAB_PANELS[key];
    const collected = Math.min(at + 15 * MINUTE, visit.end);
    const collectedText = instant(collected);
    const issuedText = instant(collected + rng.int(1, 24) * HOUR);
    const srId = this.nextId();
    this.emit({
      resourceType: 'ServiceRequest',
      id: srId,
      meta: META.serviceRequest,
      status: 'completed',
      intent: 'order',
      category: SERVICE_CATEGORY_LAB,
      code: panel.code,
      subject: this.subject,
      encounter: ref(visit.ref),
      occurrenceDateTime: collectedText,
      authoredOn: at === visit.start ? visit.startText : instant(at),
      requester: ref(visit.practitioner.ref),
    });
    const results: { reference: string }[] = [];
    let abnormal = 0;
    for (const test of panel.tests) {
      const id = this.nextId();
      results.push(ref(`Observation/${id}`));
      const mean = this.labMeans.get(test.code.coding[0]?.code ?? '') ?? (test.low + test.high) / 2;
      const value = round(Math.max(0, rng.normal(mean, (test.high - test.low) / 4.5)), test.decimals);
      const interpretation = value > test.high ? INTERPRETATION_HIGH : value < test.low ? INTERPRETATION_LOW : INTERPRETATION_NORMAL;
      if (interpretation !== INTERPRETATION_NORMAL) abnormal++;
      this.emit({
        resourceType: 'Observation',
        id,
        meta: META.lab,
        status: 'final',
        category: OBS_LABORATORY,
        code: test.code,
        subject: this.subject,
        encounter: ref(visit.ref),
        effectiveDateTime: collectedText,
        issued: issuedText,
        valueQuantity: quantity(value, test.unit),
        interpretation,
        referenceRange: test.range,
      });
    }
    this.emit({
      resourceType: 'DiagnosticReport',
      id: this.nextId(),
      meta: META.reportLab,
      basedOn: [ref(`ServiceRequest/${srId}`)],
      status: 'final',
      category: REPORT_CATEGORY_LAB,
      code: panel.code,
      subject: this.subject,
      encounter: ref(visit.ref),
      effectiveDateTime: collectedText,
      issued: issuedText,
      performer: [ref(visit.facility.orgRef)],
      result: results,
    });
    visit.findings.push(`${panel.code.text ?? ''}: ${abnormal === 0 ? 'within normal limits' : `${abnormal} abnormal result(s)`}.`);
  }

  /** Imaging or ECG: ServiceRequest + DiagnosticReport (note), usually with an inline presentedForm. */
  private noteReport(visit: Visit, key: NoteReportKey): void {
    const rng = this.rng;
    const report = NOTE_REPORTS[key];
    const at = Math.min(visit.start + 30 * MINUTE, visit.end);
    const atText = instant(at);
    const srId = this.nextId();
    this.emit({
      resourceType: 'ServiceRequest',
      id: srId,
      meta: META.serviceRequest,
      status: 'completed',
      intent: 'order',
      category: SERVICE_CATEGORY_IMAGING,
      code: report.order,
      subject: this.subject,
      encounter: ref(visit.ref),
      occurrenceDateTime: atText,
      authoredOn: visit.startText,
      requester: ref(visit.practitioner.ref),
      ...(visit.reason ? { reasonReference: [ref(visit.reason.ref)] } : {}),
    });
    const finding = rng.pick(report.findings);
    const interpreter = rng.pick(visit.facility.practitioners);
    const issuedText = instant(at + rng.int(1, 6) * HOUR);
    const withForm = rng.chance(0.7);
    const formType = rng.weighted(REPORT_FORM_TYPES);
    const formLines = [`Patient: ${this.name}, DOB ${dateOnly(this.birth)}`, `Date: ${atText}`, `Findings: ${finding}`, `Interpreted by ${interpreter.name}.`];
    this.emit({
      resourceType: 'DiagnosticReport',
      id: this.nextId(),
      meta: META.reportNote,
      basedOn: [ref(`ServiceRequest/${srId}`)],
      status: 'final',
      category: report.category,
      code: report.code,
      subject: this.subject,
      encounter: ref(visit.ref),
      effectiveDateTime: atText,
      issued: issuedText,
      performer: [ref(interpreter.ref)],
      resultsInterpreter: [ref(interpreter.ref)],
      conclusion: finding,
      ...(withForm
        ? {
            presentedForm: [
              {
                contentType: formType,
                data: base64(renderNote(formType, report.code.text ?? '', formLines)),
                title: report.code.text ?? '',
                creation: issuedText,
              },
            ],
          }
        : {}),
    });
    visit.findings.push(`${report.code.text ?? ''}: ${finding}`);
  }

  // ------------------------------------------------------------ procedures, medications, immunizations

  private procedure(visit: Visit, code: CodeableConcept, reason?: string): void {
    const rng = this.rng;
    const startMs = Math.min(visit.start + rng.int(5, 60) * MINUTE, visit.end);
    const endMs = Math.min(startMs + rng.int(10, 90) * MINUTE, Math.max(visit.end, startMs));
    this.emit({
      resourceType: 'Procedure',
      id: this.nextId(),
      meta: META.procedure,
      status: 'completed',
      code,
      subject: this.subject,
      encounter: ref(visit.ref),
      performedPeriod: { start: instant(startMs), end: instant(endMs) },
      performer: [{ actor: ref(visit.practitioner.ref), onBehalfOf: ref(visit.facility.orgRef) }],
      location: ref(visit.locationRef),
      ...(reason ? { reasonReference: [ref(reason)] } : {}),
    });
    visit.plan.push(`Procedure: ${label(code)}.`);
  }

  private renewChronic(visit: Visit, c: ChronicState): void {
    const meds = c.def.meds;
    const first = meds[0];
    if (!first) return;
    this.prescribe(visit, first, c.ref, 90, this.rng.int(1, 3), false);
    const second = meds[1];
    if (second && this.rng.chance(0.3)) this.prescribe(visit, second, c.ref, 90, this.rng.int(1, 3), false);
  }

  /** MedicationRequest for `supplyDays` with `dispenses` 30-day fills (those before the end of the record). */
  private prescribe(visit: Visit, med: Medication, reason: string | undefined, supplyDays: number, dispenses: number, inpatient: boolean): void {
    const rng = this.rng;
    const id = this.nextId();
    const requestRef = `MedicationRequest/${id}`;
    const stillRunning = visit.start + supplyDays * DAY > this.end;
    const status = stillRunning ? (this.end < REFERENCE_DATE ? 'stopped' : 'active') : 'completed';
    const dosage = [
      {
        sequence: 1,
        text: med.dose,
        timing: { repeat: { frequency: med.perDay, period: 1, periodUnit: 'd' } },
        asNeededBoolean: med.dose.includes('as needed'),
      },
    ];
    this.emit({
      resourceType: 'MedicationRequest',
      id,
      meta: META.medicationRequest,
      status,
      intent: 'order',
      category: inpatient ? MED_REQUEST_CATEGORY.inpatient : MED_REQUEST_CATEGORY.community,
      reportedBoolean: false,
      medicationCodeableConcept: med.code,
      subject: this.subject,
      encounter: ref(visit.ref),
      authoredOn: visit.startText,
      requester: ref(visit.practitioner.ref),
      ...(reason ? { reasonReference: [ref(reason)] } : {}),
      dosageInstruction: dosage,
      ...(inpatient
        ? {}
        : {
            dispenseRequest: {
              numberOfRepeatsAllowed: Math.max(0, dispenses - 1),
              quantity: { value: med.perDay * Math.min(30, supplyDays) },
              expectedSupplyDuration: days(Math.min(30, supplyDays)),
            },
          }),
    });
    visit.plan.push(`Prescribed ${med.code.text ?? ''}.`);
    for (let i = 0; i < dispenses; i++) {
      const handed = visit.end + i * 30 * DAY + rng.int(1, 48) * HOUR;
      if (handed > this.end) break;
      const supply = Math.min(30, supplyDays);
      this.emit({
        resourceType: 'MedicationDispense',
        id: this.nextId(),
        meta: META.medicationDispense,
        status: 'completed',
        medicationCodeableConcept: med.code,
        subject: this.subject,
        context: ref(visit.ref),
        performer: [{ actor: ref(visit.facility.orgRef) }],
        location: ref(visit.facility.clinicRef),
        authorizingPrescription: [ref(requestRef)],
        type: i === 0 ? DISPENSE_FIRST_FILL : DISPENSE_REFILL,
        quantity: { value: med.perDay * supply },
        daysSupply: days(supply),
        whenPrepared: instant(handed - HOUR),
        whenHandedOver: instant(handed),
        dosageInstruction: dosage,
      });
    }
  }

  private immunizations(visit: Visit, age: number): void {
    const rng = this.rng;
    const give: Vaccine[] = [];
    if (age >= FLU_VACCINE.minAge && rng.chance(0.5)) give.push(FLU_VACCINE);
    if (visit.start >= Date.UTC(2021, 0, 1) && age >= COVID_VACCINE.minAge && rng.chance(0.15)) give.push(COVID_VACCINE);
    for (const v of ROUTINE_VACCINES) {
      if (age < v.minAge || age > v.maxAge) continue;
      if (age < 18 ? rng.chance(0.35) : !this.vaccinesGiven.has(v) && rng.chance(0.08)) give.push(v);
    }
    for (const v of give) {
      this.vaccinesGiven.add(v);
      this.emit({
        resourceType: 'Immunization',
        id: this.nextId(),
        meta: META.immunization,
        status: 'completed',
        vaccineCode: v.code,
        patient: this.subject,
        encounter: ref(visit.ref),
        occurrenceDateTime: visit.startText,
        primarySource: true,
        location: ref(visit.locationRef),
        lotNumber: `${rng.hex(2).toUpperCase()}${rng.digits(5)}`,
        performer: [{ actor: ref(visit.practitioner.ref) }],
      });
      visit.plan.push(`Administered ${v.code.text ?? ''} vaccine.`);
    }
  }

  // ------------------------------------------------------------ clinical note

  /** The visit's note: a Binary in one of five formats, the DocumentReference pointing at it, and Provenance. */
  private document(visit: Visit): void {
    const rng = this.rng;
    const contentType = rng.weighted(DOCUMENT_CONTENT_TYPES);
    const title = visit.kind.note.text ?? 'Clinical note';
    const lines = [
      `Patient: ${this.name}, DOB ${dateOnly(this.birth)}, MRN ${this.mrn}`,
      `Date of service: ${visit.startText} at ${visit.facility.name}`,
      `Visit: ${visit.kind.type[0]?.text ?? ''}${visit.reason ? ` for ${label(visit.reason.code)}` : ''}`,
    ];
    if (visit.vitals) lines.push(`Vital signs: ${visit.vitals}`);
    for (const f of visit.findings) lines.push(f);
    lines.push(...(visit.plan.length > 0 ? visit.plan : ['Plan: continue current management.']));
    lines.push('Follow up as needed.', `Signed by ${visit.practitioner.name}`);
    const body = renderNote(contentType, title, lines);
    const binaryId = this.nextId();
    this.emit({ resourceType: 'Binary', id: binaryId, contentType, data: base64(body) });
    const id = this.nextId();
    const docRef = `DocumentReference/${id}`;
    const signed = Math.min(REFERENCE_DATE, visit.end + rng.int(5, 240) * MINUTE);
    this.emit({
      resourceType: 'DocumentReference',
      id,
      meta: META.documentReference,
      identifier: [{ system: 'https://flatfhir.example.org/sid/document', value: id }],
      status: 'current',
      docStatus: 'final',
      type: visit.kind.note,
      category: DOCUMENT_CATEGORY,
      subject: this.subject,
      date: instant(signed),
      author: [ref(visit.practitioner.ref)],
      authenticator: ref(visit.practitioner.ref),
      custodian: ref(visit.facility.orgRef),
      content: [
        {
          attachment: { contentType, url: `Binary/${binaryId}`, size: body.length, title, creation: visit.endText },
          format: DOCUMENT_FORMAT,
        },
      ],
      context: { encounter: [ref(visit.ref)], period: { start: visit.startText, end: visit.endText } },
    });
    this.provenance(docRef, signed, visit.practitioner.ref, visit.facility.orgRef, 0.15);
  }
}

/**
 * Emits every resource of patient `index` (0-based) of the population: the Patient first, then the rest in
 * chronological order of their history. Deterministic in (seed, index, pool).
 */
export function generatePatientResources(ctx: PopulationContext, index: number, emit: Emit): void {
  new PatientHistory(ctx, index, Rng.derive(ctx.seedHash, index + 1), emit).run();
}
