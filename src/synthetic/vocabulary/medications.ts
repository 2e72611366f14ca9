/** Medications (RxNorm) with their dose instructions, and the request and dispense codes. */
import { type CodeableConcept, codeOnly, concept, RXNORM } from './codes.js';

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';

export const MED_REQUEST_CATEGORY = {
  community: [codeOnly('http://terminology.hl7.org/CodeSystem/medicationrequest-category', 'community', 'Community')],
  inpatient: [codeOnly('http://terminology.hl7.org/CodeSystem/medicationrequest-category', 'inpatient', 'Inpatient')],
};
export const DISPENSE_FIRST_FILL = codeOnly(ACT_CODE, 'FF', 'First Fill');
export const DISPENSE_REFILL = codeOnly(ACT_CODE, 'RF', 'Refill');

export interface Medication {
  code: CodeableConcept;
  dose: string;
  /** Doses a day, for the supply quantity. */
  perDay: number;
}
const med = (code: string, display: string, dose: string, perDay = 1): Medication => ({
  code: concept(RXNORM, code, display),
  dose,
  perDay,
});
export const MEDS = {
  lisinopril: med('314076', 'lisinopril 10 MG Oral Tablet', 'Take 1 tablet by mouth once daily'),
  hydrochlorothiazide: med('310798', 'Hydrochlorothiazide 25 MG Oral Tablet', 'Take 1 tablet by mouth every morning'),
  amlodipine: med('197361', 'amlodipine 5 MG Oral Tablet', 'Take 1 tablet by mouth once daily'),
  metformin: med(
    '860975',
    '24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet',
    'Take 1 tablet by mouth twice daily with meals',
    2,
  ),
  insulin: med(
    '106892',
    'insulin isophane, human 70 UNT/ML / insulin, regular, human 30 UNT/ML Injectable Suspension [Humulin]',
    'Inject 20 units subcutaneously twice daily',
    2,
  ),
  simvastatin: med('314231', 'simvastatin 10 MG Oral Tablet', 'Take 1 tablet by mouth at bedtime'),
  albuterol: med(
    '745679',
    '200 ACTUAT albuterol 0.09 MG/ACTUAT Metered Dose Inhaler',
    'Inhale 2 puffs every 4 to 6 hours as needed',
    4,
  ),
  fluticasone: med(
    '895994',
    '120 ACTUAT fluticasone propionate 0.044 MG/ACTUAT Metered Dose Inhaler',
    'Inhale 2 puffs twice daily',
    2,
  ),
  levothyroxine: med('966222', 'levothyroxine sodium 0.075 MG Oral Tablet', 'Take 1 tablet by mouth every morning'),
  sertraline: med('312938', 'sertraline 100 MG Oral Tablet', 'Take 1 tablet by mouth once daily'),
  warfarin: med('855332', 'warfarin sodium 5 MG Oral Tablet', 'Take 1 tablet by mouth once daily as directed'),
  clopidogrel: med('309362', 'clopidogrel 75 MG Oral Tablet', 'Take 1 tablet by mouth once daily'),
  naproxen: med('849574', 'naproxen sodium 220 MG Oral Tablet', 'Take 1 tablet by mouth twice daily as needed', 2),
  acetaminophen: med('313782', 'acetaminophen 325 MG Oral Tablet', 'Take 2 tablets by mouth every 6 hours as needed', 4),
  ibuprofen: med('310965', 'ibuprofen 200 MG Oral Tablet', 'Take 2 tablets by mouth every 6 hours as needed', 4),
  amoxicillin: med('308182', 'amoxicillin 250 MG Oral Capsule', 'Take 1 capsule by mouth three times daily', 3),
  penicillin: med('834061', 'penicillin V potassium 250 MG Oral Tablet', 'Take 1 tablet by mouth four times daily', 4),
  amoxClav: med(
    '562251',
    'amoxicillin 250 MG / clavulanate 125 MG Oral Tablet',
    'Take 1 tablet by mouth three times daily',
    3,
  ),
  oxycodoneApap: med(
    '1049221',
    'acetaminophen 325 MG / oxycodone hydrochloride 5 MG Oral Tablet',
    'Take 1 tablet by mouth every 6 hours as needed for pain',
    4,
  ),
} satisfies Record<string, Medication>;
