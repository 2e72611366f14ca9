/** Vital signs, laboratory panels, imaging and ECG reports: codes, units, reference ranges and categories. */
import { type CodeableConcept, codeOnly, concept, LOINC, SNOMED, UCUM } from './codes.js';
import { PROCEDURES } from './procedures.js';

const OBS_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const OBS_VITAL_SIGNS = [codeOnly(OBS_CATEGORY, 'vital-signs', 'Vital Signs')];
export const OBS_LABORATORY = [codeOnly(OBS_CATEGORY, 'laboratory', 'Laboratory')];
const INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
export const INTERPRETATION_HIGH = [codeOnly(INTERPRETATION, 'H', 'High')];
export const INTERPRETATION_LOW = [codeOnly(INTERPRETATION, 'L', 'Low')];
export const INTERPRETATION_NORMAL = [codeOnly(INTERPRETATION, 'N', 'Normal')];

export const REPORT_CATEGORY_LAB = [codeOnly('http://terminology.hl7.org/CodeSystem/v2-0074', 'LAB', 'Laboratory')];
export const REPORT_CATEGORY_RADIOLOGY = [codeOnly(LOINC, 'LP29684-5', 'Radiology')];
export const REPORT_CATEGORY_CARDIOLOGY = [codeOnly(LOINC, 'LP29708-2', 'Cardiology')];

export const SERVICE_CATEGORY_LAB = [concept(SNOMED, '108252007', 'Laboratory procedure')];
export const SERVICE_CATEGORY_IMAGING = [concept(SNOMED, '363679005', 'Imaging')];

export const VITALS = {
  heartRate: concept(LOINC, '8867-4', 'Heart rate'),
  respiratoryRate: concept(LOINC, '9279-1', 'Respiratory rate'),
  bodyTemperature: concept(LOINC, '8310-5', 'Body temperature'),
  oxygenSaturation: {
    coding: [
      { system: LOINC, code: '2708-6', display: 'Oxygen saturation in Arterial blood' },
      { system: LOINC, code: '59408-5', display: 'Oxygen saturation in Arterial blood by Pulse oximetry' },
    ],
    text: 'Oxygen saturation',
  },
  bodyWeight: concept(LOINC, '29463-7', 'Body weight'),
  bodyHeight: concept(LOINC, '8302-2', 'Body height'),
  bmi: concept(LOINC, '39156-5', 'Body mass index (BMI) [Ratio]'),
  bloodPressure: concept(LOINC, '85354-9', 'Blood pressure panel with all children optional'),
  systolic: concept(LOINC, '8480-6', 'Systolic blood pressure'),
  diastolic: concept(LOINC, '8462-4', 'Diastolic blood pressure'),
};

export interface LabTest {
  code: CodeableConcept;
  unit: string;
  low: number;
  high: number;
  decimals: number;
  /** Shared referenceRange array. */
  range: object[];
}
const lab = (code: string, display: string, unit: string, low: number, high: number, decimals: number): LabTest => ({
  code: concept(LOINC, code, display),
  unit,
  low,
  high,
  decimals,
  range: [
    {
      low: { value: low, unit, system: UCUM, code: unit },
      high: { value: high, unit, system: UCUM, code: unit },
    },
  ],
});
export type LabPanelKey = 'bmp' | 'cbc' | 'lipid' | 'a1c';
export interface LabPanel {
  code: CodeableConcept;
  tests: readonly LabTest[];
}
export const LAB_PANELS: Record<LabPanelKey, LabPanel> = {
  bmp: {
    code: concept(LOINC, '51990-0', 'Basic metabolic panel - Blood'),
    tests: [
      lab('2345-7', 'Glucose [Mass/volume] in Serum or Plasma', 'mg/dL', 70, 99, 0),
      lab('3094-0', 'Urea nitrogen [Mass/volume] in Serum or Plasma', 'mg/dL', 7, 20, 0),
      lab('2160-0', 'Creatinine [Mass/volume] in Serum or Plasma', 'mg/dL', 0.6, 1.3, 2),
      lab('17861-6', 'Calcium [Mass/volume] in Serum or Plasma', 'mg/dL', 8.5, 10.2, 1),
      lab('2951-2', 'Sodium [Moles/volume] in Serum or Plasma', 'mmol/L', 136, 145, 0),
      lab('2823-3', 'Potassium [Moles/volume] in Serum or Plasma', 'mmol/L', 3.5, 5.1, 1),
      lab('2075-0', 'Chloride [Moles/volume] in Serum or Plasma', 'mmol/L', 98, 107, 0),
      lab('2028-9', 'Carbon dioxide, total [Moles/volume] in Serum or Plasma', 'mmol/L', 22, 29, 0),
    ],
  },
  cbc: {
    code: concept(LOINC, '58410-2', 'CBC panel - Blood by Automated count'),
    tests: [
      lab('6690-2', 'Leukocytes [#/volume] in Blood by Automated count', '10*3/uL', 4.5, 11, 1),
      lab('789-8', 'Erythrocytes [#/volume] in Blood by Automated count', '10*6/uL', 4.2, 5.9, 2),
      lab('718-7', 'Hemoglobin [Mass/volume] in Blood', 'g/dL', 12, 17.5, 1),
      lab('4544-3', 'Hematocrit [Volume Fraction] of Blood by Automated count', '%', 36, 50, 1),
      lab('787-2', 'MCV [Entitic volume] by Automated count', 'fL', 80, 100, 1),
      lab('777-3', 'Platelets [#/volume] in Blood by Automated count', '10*3/uL', 150, 400, 0),
    ],
  },
  lipid: {
    code: concept(LOINC, '57698-3', 'Lipid panel with direct LDL - Serum or Plasma'),
    tests: [
      lab('2093-3', 'Cholesterol [Mass/volume] in Serum or Plasma', 'mg/dL', 125, 200, 0),
      lab('2571-8', 'Triglyceride [Mass/volume] in Serum or Plasma', 'mg/dL', 40, 150, 0),
      lab('2085-9', 'Cholesterol in HDL [Mass/volume] in Serum or Plasma', 'mg/dL', 40, 80, 0),
      lab('18262-6', 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay', 'mg/dL', 50, 100, 0),
    ],
  },
  a1c: {
    code: concept(LOINC, '4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'),
    tests: [lab('4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood', '%', 4, 5.6, 1)],
  },
};

export type NoteReportKey = 'chestXray' | 'ecg';
export const NOTE_REPORTS: Record<NoteReportKey, { code: CodeableConcept; category: CodeableConcept[]; order: CodeableConcept; findings: readonly string[] }> = {
  chestXray: {
    code: concept(LOINC, '36643-5', 'XR Chest 2 Views'),
    category: REPORT_CATEGORY_RADIOLOGY,
    order: PROCEDURES.chestXray,
    findings: [
      'Lungs are clear. No pleural effusion or pneumothorax. Heart size is normal.',
      'Patchy opacity in the right lower lobe, compatible with pneumonia.',
      'Mild peribronchial thickening. No focal consolidation.',
      'No acute cardiopulmonary abnormality.',
    ],
  },
  ecg: {
    code: concept(LOINC, '11524-6', 'EKG study'),
    category: REPORT_CATEGORY_CARDIOLOGY,
    order: PROCEDURES.ecg,
    findings: [
      'Normal sinus rhythm. No acute ST changes.',
      'Sinus tachycardia. Nonspecific T wave changes.',
      'ST elevation in leads II, III and aVF, consistent with acute inferior infarction.',
      'Atrial fibrillation with controlled ventricular response.',
    ],
  },
};

/** Content types of the (inline) presentedForm of imaging and ECG reports, with their weights. */
export const REPORT_FORM_TYPES: readonly (readonly [string, number])[] = [
  ['text/html', 50],
  ['text/plain', 30],
  ['application/pdf', 20],
];
