/** Procedure codes (SNOMED CT). */
import { type CodeableConcept, concept, SNOMED } from './codes.js';

const proc = (code: string, display: string): CodeableConcept => concept(SNOMED, code, display);
export const PROCEDURES = {
  medicationReconciliation: proc('430193006', 'Medication reconciliation (procedure)'),
  depressionScreening: proc('171207006', 'Depression screening (procedure)'),
  colonoscopy: proc('73761001', 'Colonoscopy (procedure)'),
  mammography: proc('71651007', 'Mammography (procedure)'),
  throatCulture: proc('117015009', 'Throat culture (procedure)'),
  urineCulture: proc('117010004', 'Urine culture (procedure)'),
  suture: proc('288086009', 'Suture open wound (procedure)'),
  chestXray: proc('399208008', 'Plain X-ray of chest (procedure)'),
  ecg: proc('29303009', 'Electrocardiographic procedure (procedure)'),
  oxygen: proc('371908008', 'Oxygen administration by mask (procedure)'),
  pci: proc('415070008', 'Percutaneous coronary intervention (procedure)'),
  appendectomy: proc('80146002', 'Appendectomy (procedure)'),
  hipReplacement: proc('52734007', 'Total replacement of hip (procedure)'),
  spirometry: proc('127783003', 'Spirometry (procedure)'),
  peripheralLine: proc('392230005', 'Insertion of catheter into peripheral vein (procedure)'),
};
