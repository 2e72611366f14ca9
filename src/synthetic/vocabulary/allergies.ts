/** Allergy and intolerance codes with their usual reactions. */
import { type CodeableConcept, codeOnly, concept, SNOMED } from './codes.js';

const cond = (code: string, display: string): CodeableConcept => concept(SNOMED, code, display);

const ALLERGY_CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
const ALLERGY_VER = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';
export const ALLERGY_STATUS = {
  active: codeOnly(ALLERGY_CLINICAL, 'active', 'Active'),
  confirmed: codeOnly(ALLERGY_VER, 'confirmed', 'Confirmed'),
  unconfirmed: codeOnly(ALLERGY_VER, 'unconfirmed', 'Unconfirmed'),
};

export interface Allergy {
  code: CodeableConcept;
  category: 'food' | 'medication' | 'environment';
  reactions: readonly CodeableConcept[];
}
const REACTIONS = {
  rash: cond('271807003', 'Eruption of skin (disorder)'),
  hives: cond('247472004', 'Wheal (finding)'),
  itching: cond('418290006', 'Itching (finding)'),
  sneezing: cond('76067001', 'Sneezing (finding)'),
  anaphylaxis: cond('39579001', 'Anaphylaxis (disorder)'),
  cough: cond('49727002', 'Cough (finding)'),
};
export const ALLERGIES: readonly Allergy[] = [
  { code: cond('91936005', 'Allergy to penicillin (finding)'), category: 'medication', reactions: [REACTIONS.rash, REACTIONS.hives] },
  { code: cond('294505008', 'Allergy to sulfonamides (finding)'), category: 'medication', reactions: [REACTIONS.rash] },
  { code: cond('91935009', 'Allergy to peanuts (finding)'), category: 'food', reactions: [REACTIONS.anaphylaxis, REACTIONS.hives] },
  { code: cond('300913006', 'Shellfish allergy (finding)'), category: 'food', reactions: [REACTIONS.hives, REACTIONS.itching] },
  { code: cond('91930004', 'Allergy to eggs (finding)'), category: 'food', reactions: [REACTIONS.rash] },
  { code: cond('418689008', 'Allergy to grass pollen (finding)'), category: 'environment', reactions: [REACTIONS.sneezing, REACTIONS.cough] },
  { code: cond('232350006', 'House dust mite allergy (finding)'), category: 'environment', reactions: [REACTIONS.sneezing] },
  { code: cond('232347008', 'Dander (animal) allergy (finding)'), category: 'environment', reactions: [REACTIONS.sneezing, REACTIONS.itching] },
  { code: cond('300916003', 'Latex allergy (finding)'), category: 'environment', reactions: [REACTIONS.rash, REACTIONS.itching] },
];
export const NO_KNOWN_ALLERGY = cond('716186003', 'No known allergy (situation)');
