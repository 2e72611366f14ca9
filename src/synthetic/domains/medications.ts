/** Prescriptions and their fills (MedicationRequest, MedicationDispense). */
import { DISPENSE_FIRST_FILL, DISPENSE_REFILL, MED_REQUEST_CATEGORY, type Medication } from '../vocabulary/medications.js';
import { META } from '../vocabulary/profiles.js';
import { days, instant, ref } from './format.js';
import { type ChronicState, DAY, HOUR, type PatientRecord, REFERENCE_DATE, type Visit } from './record.js';

export function renewChronic(p: PatientRecord, visit: Visit, c: ChronicState): void {
  const meds = c.def.meds;
  const first = meds[0];
  if (!first) return;
  prescribe(p, visit, first, c.ref, 90, p.rng.int(1, 3), false);
  const second = meds[1];
  if (second && p.rng.chance(0.3)) prescribe(p, visit, second, c.ref, 90, p.rng.int(1, 3), false);
}

/** MedicationRequest for `supplyDays` with `dispenses` 30-day fills (those before the end of the record). */
export function prescribe(p: PatientRecord, visit: Visit, med: Medication, reason: string | undefined, supplyDays: number, dispenses: number, inpatient: boolean): void {
  const rng = p.rng;
  const id = p.nextId();
  const requestRef = `MedicationRequest/${id}`;
  const stillRunning = visit.start + supplyDays * DAY > p.end;
  const status = stillRunning ? (p.end < REFERENCE_DATE ? 'stopped' : 'active') : 'completed';
  const dosage = [
    {
      sequence: 1,
      text: med.dose,
      timing: { repeat: { frequency: med.perDay, period: 1, periodUnit: 'd' } },
      asNeededBoolean: med.dose.includes('as needed'),
    },
  ];
  p.emit({
    resourceType: 'MedicationRequest',
    id,
    meta: META.medicationRequest,
    status,
    intent: 'order',
    category: inpatient ? MED_REQUEST_CATEGORY.inpatient : MED_REQUEST_CATEGORY.community,
    reportedBoolean: false,
    medicationCodeableConcept: med.code,
    subject: p.subject,
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
    if (handed > p.end) break;
    const supply = Math.min(30, supplyDays);
    p.emit({
      resourceType: 'MedicationDispense',
      id: p.nextId(),
      meta: META.medicationDispense,
      status: 'completed',
      medicationCodeableConcept: med.code,
      subject: p.subject,
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
