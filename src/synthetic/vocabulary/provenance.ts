/** Provenance agent types and activities. */
import { codeOnly } from './codes.js';

export const PROVENANCE_AUTHOR = codeOnly(
  'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
  'author',
  'Author',
);
export const PROVENANCE_TRANSMITTER = codeOnly(
  'http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type',
  'transmitter',
  'Transmitter',
);
const DATA_OPERATION = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
export const ACTIVITY_CREATE = codeOnly(DATA_OPERATION, 'CREATE', 'create');
export const ACTIVITY_UPDATE = codeOnly(DATA_OPERATION, 'UPDATE', 'revise');
