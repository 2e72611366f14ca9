/** Encounter classes and the kinds of visit a history is made of. */
import { type CodeableConcept, codeOnly, type Coding, coding, concept, LOINC, SNOMED } from './codes.js';

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

export const ENCOUNTER_CLASS = {
  AMB: coding(ACT_CODE, 'AMB', 'ambulatory'),
  EMER: coding(ACT_CODE, 'EMER', 'emergency'),
  IMP: coding(ACT_CODE, 'IMP', 'inpatient encounter'),
  VR: coding(ACT_CODE, 'VR', 'virtual'),
};
export const PARTICIPANT_PRIMARY = [
  codeOnly('http://terminology.hl7.org/CodeSystem/v3-ParticipationType', 'PPRF', 'primary performer'),
];
export const PARTICIPANT_ATTENDER = [
  codeOnly('http://terminology.hl7.org/CodeSystem/v3-ParticipationType', 'ATND', 'attender'),
];
export const DISCHARGE_HOME = codeOnly('http://terminology.hl7.org/CodeSystem/discharge-disposition', 'home', 'Home');

export interface EncounterKind {
  key: 'wellness' | 'followup' | 'acute' | 'emergency' | 'inpatient' | 'virtual';
  cls: Coding;
  type: CodeableConcept[];
  /** LOINC document type of the note written for it. */
  note: CodeableConcept;
}
const NOTE_PROGRESS = concept(LOINC, '11506-3', 'Progress note');
export const ENCOUNTER_KINDS: Record<EncounterKind['key'], EncounterKind> = {
  wellness: {
    key: 'wellness',
    cls: ENCOUNTER_CLASS.AMB,
    type: [concept(SNOMED, '162673000', 'General examination of patient (procedure)', 'General examination')],
    note: concept(LOINC, '34117-2', 'History and physical note'),
  },
  followup: {
    key: 'followup',
    cls: ENCOUNTER_CLASS.AMB,
    type: [concept(SNOMED, '390906007', 'Follow-up encounter (procedure)', 'Follow-up encounter')],
    note: NOTE_PROGRESS,
  },
  acute: {
    key: 'acute',
    cls: ENCOUNTER_CLASS.AMB,
    type: [concept(SNOMED, '185345009', 'Encounter for symptom (procedure)', 'Encounter for symptom')],
    note: NOTE_PROGRESS,
  },
  emergency: {
    key: 'emergency',
    cls: ENCOUNTER_CLASS.EMER,
    type: [concept(SNOMED, '50849002', 'Emergency room admission (procedure)', 'Emergency room admission')],
    note: concept(LOINC, '34111-5', 'Emergency department note'),
  },
  inpatient: {
    key: 'inpatient',
    cls: ENCOUNTER_CLASS.IMP,
    type: [concept(SNOMED, '183452005', 'Emergency hospital admission (procedure)', 'Hospital admission')],
    note: concept(LOINC, '18842-5', 'Discharge summary'),
  },
  virtual: {
    key: 'virtual',
    cls: ENCOUNTER_CLASS.VR,
    type: [concept(SNOMED, '185317003', 'Telephone encounter (procedure)', 'Telephone encounter')],
    note: concept(LOINC, '11488-4', 'Consult note'),
  },
};
