/** Allergies and intolerances, or the record that there are none (AllergyIntolerance). */
import { ALLERGIES, ALLERGY_STATUS, NO_KNOWN_ALLERGY } from '../vocabulary/allergies.js';
import { META } from '../vocabulary/profiles.js';
import { instant, ref } from './format.js';
import { DAY, HISTORY_YEARS, type PatientRecord, REFERENCE_DATE, YEAR } from './record.js';

export function allergies(p: PatientRecord): void {
  const rng = p.rng;
  const count = rng.weighted([
    [0, 45],
    [1, 30],
    [2, 15],
    [3, 7],
    [4, 3],
  ]);
  const recordedBase = Math.max(p.birth + 180 * DAY, REFERENCE_DATE - HISTORY_YEARS * YEAR);
  if (count === 0) {
    const recorded = p.between(recordedBase, p.end);
    p.emit({
      resourceType: 'AllergyIntolerance',
      id: p.nextId(),
      meta: META.allergy,
      clinicalStatus: ALLERGY_STATUS.active,
      verificationStatus: ALLERGY_STATUS.confirmed,
      code: NO_KNOWN_ALLERGY,
      patient: p.subject,
      recordedDate: instant(recorded),
      recorder: ref(p.pcp.ref),
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
    const recorded = p.between(recordedBase, p.end);
    const severe = rng.chance(0.15);
    p.emit({
      resourceType: 'AllergyIntolerance',
      id: p.nextId(),
      meta: META.allergy,
      clinicalStatus: ALLERGY_STATUS.active,
      verificationStatus: rng.chance(0.9) ? ALLERGY_STATUS.confirmed : ALLERGY_STATUS.unconfirmed,
      type: 'allergy',
      category: [allergy.category],
      criticality: severe ? 'high' : 'low',
      code: allergy.code,
      patient: p.subject,
      onsetDateTime: instant(p.between(p.birth, recorded)),
      recordedDate: instant(recorded),
      recorder: ref(p.pcp.ref),
      reaction: [{ manifestation: [rng.pick(allergy.reactions)], severity: severe ? 'severe' : rng.chance(0.6) ? 'mild' : 'moderate' }],
    });
  }
}
