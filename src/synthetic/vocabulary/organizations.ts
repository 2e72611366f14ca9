/** Coded types and name parts of the shared organizations, locations and practitioners. */
import { concept } from './codes.js';

const ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';

export const LOCATION_TYPE = {
  clinic: [concept(ROLE_CODE, 'GIM', 'General internal medicine clinic')],
  hospital: [concept(ROLE_CODE, 'HOSP', 'Hospital')],
};
export const ORGANIZATION_TYPE = {
  provider: [concept('http://terminology.hl7.org/CodeSystem/organization-type', 'prov', 'Healthcare Provider')],
  payer: [concept('http://terminology.hl7.org/CodeSystem/organization-type', 'pay', 'Payer')],
};
export const QUALIFICATION_MD = [
  { code: concept('http://terminology.hl7.org/CodeSystem/v2-0360', 'MD', 'Doctor of Medicine', 'MD') },
];

export const FACILITY_SUFFIXES: readonly string[] = [
  'Family Medicine',
  'Community Health Center',
  'Medical Group',
  'Primary Care Associates',
  'Health Partners',
  'Internal Medicine Clinic',
];
