/** Insurance: plan types, subscriber relationships and the payers of the shared pool. */
import { codeOnly, concept } from './codes.js';

const COVERAGE_TYPE = 'https://nahdo.org/sopt';
export const COVERAGE_TYPES = {
  medicare: concept(COVERAGE_TYPE, '1', 'MEDICARE'),
  medicaid: concept(COVERAGE_TYPE, '2', 'MEDICAID'),
  private: concept(COVERAGE_TYPE, '5', 'PRIVATE HEALTH INSURANCE'),
  selfPay: concept(COVERAGE_TYPE, '81', 'Self-pay'),
};
const SUBSCRIBER_RELATIONSHIP = 'http://terminology.hl7.org/CodeSystem/subscriber-relationship';
export const SUBSCRIBER_SELF = codeOnly(SUBSCRIBER_RELATIONSHIP, 'self', 'Self');
export const SUBSCRIBER_CHILD = codeOnly(SUBSCRIBER_RELATIONSHIP, 'child', 'Child');
export const SUBSCRIBER_SPOUSE = codeOnly(SUBSCRIBER_RELATIONSHIP, 'spouse', 'Spouse');
export const COVERAGE_CLASS_GROUP = codeOnly('http://terminology.hl7.org/CodeSystem/coverage-class', 'group', 'Group');

export const PAYERS: readonly { name: string; kind: 'medicare' | 'medicaid' | 'private' }[] = [
  { name: 'Medicare', kind: 'medicare' },
  { name: 'Medicaid', kind: 'medicaid' },
  { name: 'Blue Harbor Health Plan', kind: 'private' },
  { name: 'Summit Mutual Insurance', kind: 'private' },
  { name: 'Cascade Health Alliance', kind: 'private' },
  { name: 'Prairie State Benefits', kind: 'private' },
];
