/** Clinical note (DocumentReference) categories, formats and content types. */
import { codeOnly, coding } from './codes.js';

export const DOCUMENT_CATEGORY = [
  codeOnly('http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', 'clinical-note', 'Clinical Note'),
];
export const DOCUMENT_FORMAT = coding(
  'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode',
  'urn:ihe:iti:xds:2017:mimeTypeSufficient',
  'mimeType Sufficient',
);

export const DOCUMENT_CONTENT_TYPES: readonly (readonly [string, number])[] = [
  ['text/html', 30],
  ['text/plain', 25],
  ['text/xml', 15],
  ['application/xhtml+xml', 15],
  ['application/pdf', 15],
];
