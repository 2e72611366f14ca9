/** The chronological series of visits (Encounter) and what each kind of visit brings. */
import { ACUTE_CONDITIONS, type AcuteCondition, EMERGENCY_CONDITIONS, INPATIENT_CONDITIONS } from '../vocabulary/conditions.js';
import { DISCHARGE_HOME, ENCOUNTER_KINDS, type EncounterKind, PARTICIPANT_ATTENDER, PARTICIPANT_PRIMARY } from '../vocabulary/encounters.js';
import { PROCEDURES } from '../vocabulary/procedures.js';
import { META } from '../vocabulary/profiles.js';
import { diagnose } from './conditions.js';
import { document } from './documents.js';
import { instant, label, ref } from './format.js';
import { noteReport } from './imaging.js';
import { immunizations } from './immunizations.js';
import { prescribe, renewChronic } from './medications.js';
import { labPanel, vitals } from './observations.js';
import { procedure } from './procedures.js';
import { provenance } from './provenance.js';
import { type ChronicState, DAY, HISTORY_YEARS, HOUR, MINUTE, type PatientRecord, REFERENCE_DATE, type Visit, YEAR } from './record.js';

const MAX_ENCOUNTERS = 600;

export function encounters(p: PatientRecord): void {
  const rng = p.rng;
  const mult = [0.8, 0.75, 1, 1.5][p.band] as number;
  let count = Math.exp(1.7 + 0.85 * rng.normal(0, 1)) * mult;
  if (rng.chance(0.02)) count *= rng.real(3, 8);
  const n = Math.min(MAX_ENCOUNTERS, Math.round(count) + p.chronic.length + 1);
  const from = Math.max(p.birth + DAY, REFERENCE_DATE - HISTORY_YEARS * YEAR);
  const to = p.end - 8 * HOUR;
  const times: number[] = [];
  for (let i = 0; i < n; i++) times.push(p.between(from, to));
  times.sort((a, b) => a - b);
  for (const t of times) encounter(p, t);
}

function encounter(p: PatientRecord, start: number): void {
  const rng = p.rng;
  const active = p.chronic.filter((c) => c.onset <= start);
  const kind = ENCOUNTER_KINDS[
    rng.weighted<EncounterKind['key']>([
      ['wellness', p.band === 0 ? 45 : 25],
      ['followup', active.length > 0 ? 15 + 6 * active.length : 0],
      ['acute', 25],
      ['emergency', 6],
      ['inpatient', p.band === 3 ? 5 : 2],
      ['virtual', 7],
    ])
  ];
  const hospital = kind.key === 'emergency' || kind.key === 'inpatient';
  const facility = hospital && rng.chance(0.4) ? rng.pick(p.ctx.pool.facilities) : p.home;
  const practitioner = !hospital && rng.chance(0.8) ? p.pcp : rng.pick(facility.practitioners);
  const duration =
    kind.key === 'inpatient'
      ? rng.int(1, 6) * DAY + rng.int(0, 12) * HOUR
      : kind.key === 'emergency'
        ? rng.int(2, 8) * HOUR
        : rng.int(15, kind.key === 'wellness' ? 60 : 40) * MINUTE;
  const end = Math.min(start + duration, Math.max(start + MINUTE, p.end));
  const id = p.nextId();
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
      wellness(p, visit, active);
      break;
    case 'followup':
      followup(p, visit, active);
      break;
    case 'acute':
      acute(p, visit, ACUTE_CONDITIONS, 0.15, 0);
      break;
    case 'emergency':
      acute(p, visit, EMERGENCY_CONDITIONS, 0.6, 0.5);
      break;
    case 'inpatient':
      inpatient(p, visit);
      break;
    case 'virtual':
      virtual(p, visit, active);
      break;
  }

  const period = { start: visit.startText, end: visit.endText };
  const participant: object[] = [{ type: PARTICIPANT_PRIMARY, period, individual: ref(practitioner.ref) }];
  if (kind.key === 'inpatient') {
    participant.push({ type: PARTICIPANT_ATTENDER, period, individual: ref(rng.pick(facility.practitioners).ref) });
  }
  const reason = visit.reason;
  p.emit({
    resourceType: 'Encounter',
    id,
    meta: META.encounter,
    identifier: [{ use: 'usual', system: 'https://flatfhir.example.org/sid/encounter', value: id }],
    status: 'finished',
    class: kind.cls,
    type: kind.type,
    subject: p.subject,
    participant,
    period,
    ...(reason ? { reasonCode: [reason.code], diagnosis: [{ condition: ref(reason.ref), rank: 1 }] } : {}),
    ...(kind.key === 'inpatient' ? { hospitalization: { dischargeDisposition: DISCHARGE_HOME } } : {}),
    location: [{ location: ref(visit.locationRef), status: 'completed', period }],
    serviceProvider: ref(facility.orgRef),
  });
  provenance(p, visit.ref, end, practitioner.ref, facility.orgRef, 0.1);
  document(p, visit);
}

function wellness(p: PatientRecord, visit: Visit, active: ChronicState[]): void {
  const rng = p.rng;
  const age = p.ageAt(visit.start);
  vitals(p, visit, true, false);
  if (age >= 18) {
    if (rng.chance(0.3)) labPanel(p, visit, 'lipid');
    if (rng.chance(0.3)) labPanel(p, visit, 'bmp');
    if (rng.chance(0.25)) labPanel(p, visit, 'cbc');
    if (rng.chance(0.2)) procedure(p, visit, PROCEDURES.depressionScreening);
    if (age >= 50 && age <= 75 && rng.chance(0.04)) procedure(p, visit, PROCEDURES.colonoscopy);
    if (p.female && age >= 40 && rng.chance(0.15)) procedure(p, visit, PROCEDURES.mammography);
  } else if (rng.chance(0.05)) {
    labPanel(p, visit, 'cbc');
  }
  const withMeds = active.filter((c) => c.def.meds.length > 0);
  if (withMeds.length > 0 && rng.chance(0.5)) procedure(p, visit, PROCEDURES.medicationReconciliation);
  for (const c of active) {
    if (c.def.lab === 'a1c' && rng.chance(0.8)) labPanel(p, visit, 'a1c');
    if (c.def.meds.length > 0 && rng.chance(0.4)) renewChronic(p, visit, c);
  }
  immunizations(p, visit, age);
  visit.findings.push('Routine health maintenance visit. No acute concerns.');
}

function followup(p: PatientRecord, visit: Visit, active: ChronicState[]): void {
  const rng = p.rng;
  const c = rng.pick(active);
  visit.reason = { ref: c.ref, code: c.def.code };
  vitals(p, visit, rng.chance(0.5), false);
  if (c.def.lab && rng.chance(0.7)) labPanel(p, visit, c.def.lab);
  if ((c.def.key === 'asthma' || c.def.key === 'copd') && rng.chance(0.2)) procedure(p, visit, PROCEDURES.spirometry, c.ref);
  if (c.def.meds.length > 0) renewChronic(p, visit, c);
  for (const other of active) {
    if (other !== c && other.def.meds.length > 0 && rng.chance(0.15)) renewChronic(p, visit, other);
  }
  visit.findings.push(`Follow-up of ${label(c.def.code)}. Condition is ${rng.pick(['stable', 'improving', 'not at goal'])}.`);
}

function virtual(p: PatientRecord, visit: Visit, active: ChronicState[]): void {
  const rng = p.rng;
  if (rng.chance(0.3)) {
    const diagnosis = diagnose(p, visit, ACUTE_CONDITIONS);
    const med = diagnosis.meds[0];
    if (med && rng.chance(0.6)) prescribe(p, visit, med, visit.reason?.ref, rng.int(5, 14), 1, false);
  } else {
    for (const c of active) if (c.def.meds.length > 0 && rng.chance(0.3)) renewChronic(p, visit, c);
    visit.findings.push('Telephone check-in. Patient reports no new concerns.');
  }
}

function acute(p: PatientRecord, visit: Visit, table: readonly AcuteCondition[], labChance: number, panelChance: number): void {
  const rng = p.rng;
  const diagnosis = diagnose(p, visit, table);
  const sets = visit.kind.key === 'emergency' ? rng.int(1, 2) : 1;
  for (let i = 0; i < sets; i++) vitals(p, visit, false, true, visit.start + i * 90 * MINUTE);
  if (rng.chance(labChance)) labPanel(p, visit, 'cbc');
  if (rng.chance(panelChance)) labPanel(p, visit, 'bmp');
  if (diagnosis.procedure && rng.chance(0.7)) procedure(p, visit, diagnosis.procedure, visit.reason?.ref);
  if (diagnosis.report && rng.chance(0.6)) noteReport(p, visit, diagnosis.report);
  const med = diagnosis.meds[0];
  if (med && rng.chance(0.75)) prescribe(p, visit, med, visit.reason?.ref, rng.int(5, 14), rng.chance(0.3) ? 2 : 1, false);
}

function inpatient(p: PatientRecord, visit: Visit): void {
  const rng = p.rng;
  const diagnosis = diagnose(p, visit, INPATIENT_CONDITIONS);
  const stay = Math.max(1, Math.round((visit.end - visit.start) / DAY));
  procedure(p, visit, PROCEDURES.peripheralLine, visit.reason?.ref);
  for (let d = 0; d < stay; d++) {
    const t = visit.start + d * DAY;
    const sets = rng.int(1, 3);
    for (let s = 0; s < sets; s++) vitals(p, visit, d === 0 && s === 0, true, t + s * 6 * HOUR);
    if (rng.chance(0.85)) labPanel(p, visit, 'cbc', t + 5 * HOUR);
    if (rng.chance(0.8)) labPanel(p, visit, 'bmp', t + 5 * HOUR);
  }
  if (diagnosis.procedure) procedure(p, visit, diagnosis.procedure, visit.reason?.ref);
  if (diagnosis.report && rng.chance(0.8)) noteReport(p, visit, diagnosis.report);
  for (const med of diagnosis.meds) {
    prescribe(p, visit, med, visit.reason?.ref, stay, 0, true);
    prescribe(p, visit, med, visit.reason?.ref, rng.int(7, 30), 1, false);
  }
}
