/**
 * Code systems, the concept builders and the identifier types every domain uses. Concepts are built once as
 * shared objects: JSON.stringify serialises a shared object as often as it is referenced, which keeps the
 * per-resource work small.
 *
 * Codes are real SNOMED CT / LOINC / RxNorm / CVX codes as used by common synthetic data sets; displays are
 * close to the official ones but not validated against a terminology server.
 */

export const SNOMED = 'http://snomed.info/sct';
export const LOINC = 'http://loinc.org';
export const RXNORM = 'http://www.nlm.nih.gov/research/umls/rxnorm';
export const CVX = 'http://hl7.org/fhir/sid/cvx';
export const UCUM = 'http://unitsofmeasure.org';
export const NPI = 'http://hl7.org/fhir/sid/us-npi';

export interface Coding {
  system: string;
  code: string;
  display: string;
}
export interface CodeableConcept {
  coding: Coding[];
  text?: string;
}

export const coding = (system: string, code: string, display: string): Coding => ({ system, code, display });
export const concept = (system: string, code: string, display: string, text: string = display): CodeableConcept => ({
  coding: [{ system, code, display }],
  text,
});
/** A concept without `text` (status and category codes). */
export const codeOnly = (system: string, code: string, display: string): CodeableConcept => ({
  coding: [{ system, code, display }],
});

export const IDENTIFIER_TYPE = {
  MR: concept('http://terminology.hl7.org/CodeSystem/v2-0203', 'MR', 'Medical Record Number'),
  SS: concept('http://terminology.hl7.org/CodeSystem/v2-0203', 'SS', 'Social Security Number'),
  MB: concept('http://terminology.hl7.org/CodeSystem/v2-0203', 'MB', 'Member Number'),
  PRN: concept('http://terminology.hl7.org/CodeSystem/v2-0203', 'PRN', 'Provider number'),
};
