/** The US Core (6.1) profile of each resource kind the population holds. */

const US_CORE = 'http://hl7.org/fhir/us/core/StructureDefinition/';
const profile = (name: string): { profile: string[] } => ({ profile: [US_CORE + name] });

/** `meta` objects carrying the US Core (6.1) profile of each resource kind. */
export const META = {
  patient: profile('us-core-patient'),
  allergy: profile('us-core-allergyintolerance'),
  carePlan: profile('us-core-careplan'),
  careTeam: profile('us-core-careteam'),
  problem: profile('us-core-condition-problems-health-concerns'),
  encounterDiagnosis: profile('us-core-condition-encounter-diagnosis'),
  coverage: profile('us-core-coverage'),
  implantableDevice: profile('us-core-implantable-device'),
  reportLab: profile('us-core-diagnosticreport-lab'),
  reportNote: profile('us-core-diagnosticreport-note'),
  documentReference: profile('us-core-documentreference'),
  encounter: profile('us-core-encounter'),
  goal: profile('us-core-goal'),
  immunization: profile('us-core-immunization'),
  medicationDispense: profile('us-core-medicationdispense'),
  medicationRequest: profile('us-core-medicationrequest'),
  heartRate: profile('us-core-heart-rate'),
  bloodPressure: profile('us-core-blood-pressure'),
  respiratoryRate: profile('us-core-respiratory-rate'),
  bodyTemperature: profile('us-core-body-temperature'),
  pulseOximetry: profile('us-core-pulse-oximetry'),
  bodyWeight: profile('us-core-body-weight'),
  bodyHeight: profile('us-core-body-height'),
  bmi: profile('us-core-bmi'),
  lab: profile('us-core-observation-lab'),
  procedure: profile('us-core-procedure'),
  serviceRequest: profile('us-core-servicerequest'),
  relatedPerson: profile('us-core-relatedperson'),
  provenance: profile('us-core-provenance'),
  organization: profile('us-core-organization'),
  location: profile('us-core-location'),
  practitioner: profile('us-core-practitioner'),
} as const;
