/** Vital signs and laboratory panels (ServiceRequest, Observation, DiagnosticReport). */
import type { CodeableConcept } from '../vocabulary/codes.js';
import { INTERPRETATION_HIGH, INTERPRETATION_LOW, INTERPRETATION_NORMAL, LAB_PANELS, type LabPanelKey, OBS_LABORATORY, OBS_VITAL_SIGNS, REPORT_CATEGORY_LAB, SERVICE_CATEGORY_LAB, VITALS } from '../vocabulary/observations.js';
import { META } from '../vocabulary/profiles.js';
import { clamp, instant, quantity, ref, round } from './format.js';
import { HOUR, MINUTE, type PatientRecord, type Visit } from './record.js';

function vitalSign(p: PatientRecord, visit: Visit, meta: { profile: string[] }, code: CodeableConcept, t: string, value: object): void {
  p.emit({
    resourceType: 'Observation',
    id: p.nextId(),
    meta,
    status: 'final',
    category: OBS_VITAL_SIGNS,
    code,
    subject: p.subject,
    encounter: ref(visit.ref),
    effectiveDateTime: t,
    issued: t,
    performer: [ref(visit.practitioner.ref)],
    ...value,
  });
}

/** A set of vital signs; `full` adds body measurements, `febrile` allows fever. */
export function vitals(p: PatientRecord, visit: Visit, full: boolean, febrile: boolean, at: number = visit.start): void {
  const rng = p.rng;
  const t = at === visit.start ? visit.startText : instant(Math.min(at, visit.end));
  const age = p.ageAt(at);
  const child = age < 18;
  const hr = Math.round(rng.normal(child ? 95 - age * 1.5 : 72, 8));
  const systolic = Math.round(child ? rng.normal(100 + age, 6) : rng.normal(p.systolic, 8));
  const diastolic = Math.round(child ? rng.normal(62 + age / 2, 5) : rng.normal(p.diastolic, 6));
  const rr = Math.round(rng.normal(child ? 22 - age / 2 : 15, 2));
  const temp = round(rng.normal(febrile && rng.chance(0.4) ? 38.3 : 36.8, 0.3), 1);
  const spo2 = Math.round(clamp(rng.normal(97.5, 1.2), 88, 100));
  vitalSign(p, visit, META.heartRate, VITALS.heartRate, t, { valueQuantity: quantity(hr, '/min') });
  vitalSign(p, visit, META.bloodPressure, VITALS.bloodPressure, t, {
    component: [
      { code: VITALS.systolic, valueQuantity: quantity(systolic, 'mm[Hg]') },
      { code: VITALS.diastolic, valueQuantity: quantity(diastolic, 'mm[Hg]') },
    ],
  });
  vitalSign(p, visit, META.respiratoryRate, VITALS.respiratoryRate, t, { valueQuantity: quantity(rr, '/min') });
  vitalSign(p, visit, META.bodyTemperature, VITALS.bodyTemperature, t, { valueQuantity: quantity(temp, 'Cel') });
  vitalSign(p, visit, META.pulseOximetry, VITALS.oxygenSaturation, t, { valueQuantity: quantity(spo2, '%') });
  visit.vitals = `BP ${systolic}/${diastolic} mmHg, HR ${hr}/min, RR ${rr}/min, Temp ${temp} C, SpO2 ${spo2}%`;
  if (!full) return;
  const growth = child ? 0.29 + 0.71 * Math.sqrt(clamp(age, 0, 18) / 18) : 1;
  const height = round(p.adultHeight * growth + rng.normal(0, 0.4), 1);
  const bmi = child ? rng.normal(16.5, 1.2) : p.bmi + rng.normal(0, 0.6);
  const weight = round((bmi * height * height) / 10000, 1);
  const bmiValue = round((weight * 10000) / (height * height), 1);
  vitalSign(p, visit, META.bodyHeight, VITALS.bodyHeight, t, { valueQuantity: quantity(height, 'cm') });
  vitalSign(p, visit, META.bodyWeight, VITALS.bodyWeight, t, { valueQuantity: quantity(weight, 'kg') });
  vitalSign(p, visit, META.bmi, VITALS.bmi, t, { valueQuantity: quantity(bmiValue, 'kg/m2') });
  visit.vitals += `, Height ${height} cm, Weight ${weight} kg, BMI ${bmiValue}`;
}

/** ServiceRequest → lab Observations → DiagnosticReport (LAB). */
export function labPanel(p: PatientRecord, visit: Visit, key: LabPanelKey, at: number = visit.start): void {
  const rng = p.rng;
  const panel = LAB_PANELS[key];
  const collected = Math.min(at + 15 * MINUTE, visit.end);
  const collectedText = instant(collected);
  const issuedText = instant(collected + rng.int(1, 24) * HOUR);
  const srId = p.nextId();
  p.emit({
    resourceType: 'ServiceRequest',
    id: srId,
    meta: META.serviceRequest,
    status: 'completed',
    intent: 'order',
    category: SERVICE_CATEGORY_LAB,
    code: panel.code,
    subject: p.subject,
    encounter: ref(visit.ref),
    occurrenceDateTime: collectedText,
    authoredOn: at === visit.start ? visit.startText : instant(at),
    requester: ref(visit.practitioner.ref),
  });
  const results: { reference: string }[] = [];
  let abnormal = 0;
  for (const test of panel.tests) {
    const id = p.nextId();
    results.push(ref(`Observation/${id}`));
    const mean = p.labMeans.get(test.code.coding[0]?.code ?? '') ?? (test.low + test.high) / 2;
    const value = round(Math.max(0, rng.normal(mean, (test.high - test.low) / 4.5)), test.decimals);
    const interpretation = value > test.high ? INTERPRETATION_HIGH : value < test.low ? INTERPRETATION_LOW : INTERPRETATION_NORMAL;
    if (interpretation !== INTERPRETATION_NORMAL) abnormal++;
    p.emit({
      resourceType: 'Observation',
      id,
      meta: META.lab,
      status: 'final',
      category: OBS_LABORATORY,
      code: test.code,
      subject: p.subject,
      encounter: ref(visit.ref),
      effectiveDateTime: collectedText,
      issued: issuedText,
      valueQuantity: quantity(value, test.unit),
      interpretation,
      referenceRange: test.range,
    });
  }
  p.emit({
    resourceType: 'DiagnosticReport',
    id: p.nextId(),
    meta: META.reportLab,
    basedOn: [ref(`ServiceRequest/${srId}`)],
    status: 'final',
    category: REPORT_CATEGORY_LAB,
    code: panel.code,
    subject: p.subject,
    encounter: ref(visit.ref),
    effectiveDateTime: collectedText,
    issued: issuedText,
    performer: [ref(visit.facility.orgRef)],
    result: results,
  });
  visit.findings.push(`${panel.code.text ?? ''}: ${abnormal === 0 ? 'within normal limits' : `${abnormal} abnormal result(s)`}.`);
}
