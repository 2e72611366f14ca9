/** Problem-list conditions present from the start, and the diagnoses made at visits (Condition). */
import { type AcuteCondition, CHRONIC_CONDITIONS, CONDITION } from '../vocabulary/conditions.js';
import { META } from '../vocabulary/profiles.js';
import { instant, label, ref } from './format.js';
import { provenance } from './provenance.js';
import { DAY, MINUTE, type PatientRecord, REFERENCE_DATE, type Visit, YEAR } from './record.js';

export function chronicConditions(p: PatientRecord): void {
  const rng = p.rng;
  for (const def of CHRONIC_CONDITIONS) {
    if (def.key === 'obesity' ? p.bmi < 30 : !rng.chance(def.prevalence[p.band])) continue;
    const earliest = Math.max(p.birth + (p.band === 0 ? 2 : 18) * YEAR, REFERENCE_DATE - 25 * YEAR);
    const onset = p.between(Math.min(earliest, p.end - 60 * DAY), p.end - 30 * DAY);
    const recorded = Math.min(p.end, onset + p.between(0, 30 * DAY));
    const id = p.nextId();
    const conditionRef = `Condition/${id}`;
    p.chronic.push({ def, ref: conditionRef, onset });
    p.emit({
      resourceType: 'Condition',
      id,
      meta: META.problem,
      clinicalStatus: CONDITION.active,
      verificationStatus: CONDITION.confirmed,
      category: CONDITION.problemList,
      code: def.code,
      subject: p.subject,
      onsetDateTime: instant(onset),
      recordedDate: instant(recorded),
      recorder: ref(p.pcp.ref),
      asserter: ref(p.pcp.ref),
    });
    provenance(p, conditionRef, recorded, p.pcp.ref, p.home.orgRef, 0.35);
    switch (def.key) {
      case 'diabetes':
        p.labMeans.set('4548-4', rng.real(6.8, 9.5));
        p.labMeans.set('2345-7', rng.real(130, 220));
        break;
      case 'hyperlipidemia':
        p.labMeans.set('18262-6', rng.real(130, 190));
        p.labMeans.set('2093-3', rng.real(210, 280));
        break;
      case 'ckd':
        p.labMeans.set('2160-0', rng.real(1.5, 2.6));
        p.labMeans.set('3094-0', rng.real(24, 40));
        break;
      case 'hypertension':
        p.systolic = rng.real(135, 160);
        p.diastolic = rng.real(85, 98);
        break;
    }
  }
}

/** Diagnoses an acute condition at the visit (encounter-diagnosis Condition + Provenance). */
export function diagnose(p: PatientRecord, visit: Visit, table: readonly AcuteCondition[]): AcuteCondition {
  const rng = p.rng;
  let diagnosis = rng.weighted(table.map((c) => [c, c.weight] as const));
  if (diagnosis.notBefore !== undefined && visit.start < diagnosis.notBefore) diagnosis = table[0] as AcuteCondition;
  const id = p.nextId();
  const conditionRef = `Condition/${id}`;
  const abatement = visit.start + rng.int(diagnosis.days[0], diagnosis.days[1]) * DAY;
  const resolved = abatement < p.end;
  visit.reason = { ref: conditionRef, code: diagnosis.code };
  p.emit({
    resourceType: 'Condition',
    id,
    meta: META.encounterDiagnosis,
    clinicalStatus: resolved ? CONDITION.resolved : CONDITION.active,
    verificationStatus: rng.chance(0.9) ? CONDITION.confirmed : CONDITION.provisional,
    category: CONDITION.encounterDiagnosis,
    code: diagnosis.code,
    subject: p.subject,
    encounter: ref(visit.ref),
    onsetDateTime: visit.startText,
    ...(resolved ? { abatementDateTime: instant(abatement) } : {}),
    recordedDate: visit.startText,
    recorder: ref(visit.practitioner.ref),
    asserter: ref(visit.practitioner.ref),
  });
  provenance(p, conditionRef, visit.start + 10 * MINUTE, visit.practitioner.ref, visit.facility.orgRef, 0.35);
  visit.findings.push(`Assessment: ${label(diagnosis.code)}.`);
  return diagnosis;
}
