/** Procedures performed at a visit (Procedure). */
import type { CodeableConcept } from '../vocabulary/codes.js';
import { META } from '../vocabulary/profiles.js';
import { instant, label, ref } from './format.js';
import { MINUTE, type PatientRecord, type Visit } from './record.js';

export function procedure(p: PatientRecord, visit: Visit, code: CodeableConcept, reason?: string): void {
  const rng = p.rng;
  const startMs = Math.min(visit.start + rng.int(5, 60) * MINUTE, visit.end);
  const endMs = Math.min(startMs + rng.int(10, 90) * MINUTE, Math.max(visit.end, startMs));
  p.emit({
    resourceType: 'Procedure',
    id: p.nextId(),
    meta: META.procedure,
    status: 'completed',
    code,
    subject: p.subject,
    encounter: ref(visit.ref),
    performedPeriod: { start: instant(startMs), end: instant(endMs) },
    performer: [{ actor: ref(visit.practitioner.ref), onBehalfOf: ref(visit.facility.orgRef) }],
    location: ref(visit.locationRef),
    ...(reason ? { reasonReference: [ref(reason)] } : {}),
  });
  visit.plan.push(`Procedure: ${label(code)}.`);
}
