/** Vaccines given at a visit (Immunization). */
import { COVID_VACCINE, FLU_VACCINE, ROUTINE_VACCINES, type Vaccine } from '../vocabulary/immunizations.js';
import { META } from '../vocabulary/profiles.js';
import { ref } from './format.js';
import type { PatientRecord, Visit } from './record.js';

export function immunizations(p: PatientRecord, visit: Visit, age: number): void {
  const rng = p.rng;
  const give: Vaccine[] = [];
  if (age >= FLU_VACCINE.minAge && rng.chance(0.5)) give.push(FLU_VACCINE);
  if (visit.start >= Date.UTC(2021, 0, 1) && age >= COVID_VACCINE.minAge && rng.chance(0.15)) give.push(COVID_VACCINE);
  for (const v of ROUTINE_VACCINES) {
    if (age < v.minAge || age > v.maxAge) continue;
    if (age < 18 ? rng.chance(0.35) : !p.vaccinesGiven.has(v) && rng.chance(0.08)) give.push(v);
  }
  for (const v of give) {
    p.vaccinesGiven.add(v);
    p.emit({
      resourceType: 'Immunization',
      id: p.nextId(),
      meta: META.immunization,
      status: 'completed',
      vaccineCode: v.code,
      patient: p.subject,
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
