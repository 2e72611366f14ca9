/** Who recorded a resource and who revised it (Provenance). */
import type { CodeableConcept } from '../vocabulary/codes.js';
import { META } from '../vocabulary/profiles.js';
import { ACTIVITY_CREATE, ACTIVITY_UPDATE, PROVENANCE_AUTHOR } from '../vocabulary/provenance.js';
import { instant, ref } from './format.js';
import { DAY, HOUR, type PatientRecord, REFERENCE_DATE } from './record.js';

/** One Provenance (CREATE) for `target`, and with probability `revised` one or two later revisions. */
export function provenance(p: PatientRecord, target: string, recorded: number, who: string, onBehalfOf: string, revised: number): void {
  provenanceOne(p, target, recorded, who, onBehalfOf, ACTIVITY_CREATE);
  if (!p.rng.chance(revised)) return;
  let t = recorded;
  const revisions = p.rng.chance(0.3) ? 2 : 1;
  for (let i = 0; i < revisions; i++) {
    t += p.between(HOUR, 60 * DAY);
    if (t > REFERENCE_DATE) break;
    provenanceOne(p, target, t, who, onBehalfOf, ACTIVITY_UPDATE);
  }
}

function provenanceOne(p: PatientRecord, target: string, recorded: number, who: string, onBehalfOf: string, activity: CodeableConcept): void {
  p.emit({
    resourceType: 'Provenance',
    id: p.nextId(),
    meta: META.provenance,
    target: [ref(target)],
    recorded: instant(recorded),
    activity,
    agent: [{ type: PROVENANCE_AUTHOR, who: ref(who), onBehalfOf: ref(onBehalfOf) }],
  });
}
