/** Devices that come with age rather than with a condition (those of conditions are in conditions.ts). */
import { concept, SNOMED } from './codes.js';

/** Given to patients of 65 and over, each with its probability. */
export const AGE_DEVICES = {
  hearingAid: { code: concept(SNOMED, '6012004', 'Hearing aid, device (physical object)'), probability: 0.2 },
  cane: { code: concept(SNOMED, '87405001', 'Cane, device (physical object)'), probability: 0.1 },
};
