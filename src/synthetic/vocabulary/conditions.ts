/** Problem-list (chronic) and encounter-diagnosis (acute) conditions, with what each brings along. */
import { type CodeableConcept, codeOnly, concept, LOINC, SNOMED, UCUM } from './codes.js';
import { type Medication, MEDS } from './medications.js';
import { type LabPanelKey, type NoteReportKey } from './observations.js';
import { PROCEDURES } from './procedures.js';

const CONDITION_CLINICAL = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const CONDITION_VER = 'http://terminology.hl7.org/CodeSystem/condition-ver-status';
const CONDITION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/condition-category';
export const CONDITION = {
  active: codeOnly(CONDITION_CLINICAL, 'active', 'Active'),
  resolved: codeOnly(CONDITION_CLINICAL, 'resolved', 'Resolved'),
  confirmed: codeOnly(CONDITION_VER, 'confirmed', 'Confirmed'),
  provisional: codeOnly(CONDITION_VER, 'provisional', 'Provisional'),
  problemList: [codeOnly(CONDITION_CATEGORY, 'problem-list-item', 'Problem List Item')],
  encounterDiagnosis: [codeOnly(CONDITION_CATEGORY, 'encounter-diagnosis', 'Encounter Diagnosis')],
};

export interface ChronicCondition {
  key: string;
  code: CodeableConcept;
  /** Probability of having it, by age band: [<18, 18-39, 40-64, 65+]. */
  prevalence: readonly [number, number, number, number];
  meds: readonly Medication[];
  goal?: { description: string; measure?: CodeableConcept; target?: object };
  carePlan?: { category: CodeableConcept; activities: readonly CodeableConcept[] };
  /** Lab panel checked at follow-up visits. */
  lab?: LabPanelKey;
  device?: { code: CodeableConcept; implantable: boolean; probability: number };
}
const cond = (code: string, display: string): CodeableConcept => concept(SNOMED, code, display);
export const CHRONIC_CONDITIONS: readonly ChronicCondition[] = [
  {
    key: 'hypertension',
    code: cond('59621000', 'Essential hypertension (disorder)'),
    prevalence: [0.01, 0.1, 0.35, 0.6],
    meds: [MEDS.lisinopril, MEDS.hydrochlorothiazide, MEDS.amlodipine],
    goal: {
      description: 'Maintain blood pressure below 140/90 mm[Hg]',
      measure: concept(LOINC, '85354-9', 'Blood pressure panel with all children optional'),
    },
    carePlan: {
      category: cond('443402002', 'Lifestyle education regarding hypertension (procedure)'),
      activities: [cond('386463000', 'Prescribed activity/exercise education (procedure)'), cond('413473000', 'Counseling about alcohol consumption (procedure)')],
    },
    lab: 'bmp',
  },
  {
    key: 'diabetes',
    code: cond('44054006', 'Diabetes mellitus type 2 (disorder)'),
    prevalence: [0.005, 0.04, 0.14, 0.25],
    meds: [MEDS.metformin, MEDS.insulin],
    goal: {
      description: 'Hemoglobin A1c total in Blood < 7.0',
      measure: concept(LOINC, '4548-4', 'Hemoglobin A1c/Hemoglobin.total in Blood'),
      target: { value: 7, comparator: '<', unit: '%', system: UCUM, code: '%' },
    },
    carePlan: {
      category: cond('698360004', 'Diabetes self management plan (record artifact)'),
      activities: [cond('160670007', 'Diabetic diet (finding)'), cond('229065009', 'Exercise therapy (regime/therapy)')],
    },
    lab: 'a1c',
    device: { code: cond('337414009', 'Blood glucose meters (physical object)'), implantable: false, probability: 0.5 },
  },
  {
    key: 'hyperlipidemia',
    code: cond('55822004', 'Hyperlipidemia (disorder)'),
    prevalence: [0.01, 0.08, 0.3, 0.45],
    meds: [MEDS.simvastatin],
    goal: {
      description: 'LDL cholesterol below 100 mg/dL',
      measure: concept(LOINC, '18262-6', 'Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay'),
      target: { value: 100, comparator: '<', unit: 'mg/dL', system: UCUM, code: 'mg/dL' },
    },
    lab: 'lipid',
  },
  {
    key: 'asthma',
    code: cond('195967001', 'Asthma (disorder)'),
    prevalence: [0.08, 0.08, 0.07, 0.06],
    meds: [MEDS.albuterol, MEDS.fluticasone],
    goal: { description: 'Reduce frequency of asthma symptoms' },
    carePlan: {
      category: cond('699728000', 'Asthma self management (procedure)'),
      activities: [cond('708409001', 'Inhaled steroid therapy (procedure)'), cond('445141005', 'Home nebulizer therapy (procedure)')],
    },
  },
  {
    key: 'copd',
    code: cond('13645005', 'Chronic obstructive bronchitis (disorder)'),
    prevalence: [0, 0.01, 0.06, 0.12],
    meds: [MEDS.albuterol],
    carePlan: {
      category: cond('53950000', 'Respiratory therapy (procedure)'),
      activities: [cond('304510005', 'Recommendation to avoid exercise (procedure)'), cond('371605008', 'Deep breathing and coughing exercises (procedure)')],
    },
  },
  {
    key: 'osteoarthritis',
    code: cond('239873007', 'Osteoarthritis of knee (disorder)'),
    prevalence: [0, 0.02, 0.12, 0.3],
    meds: [MEDS.naproxen],
    carePlan: {
      category: cond('408869004', 'Musculoskeletal care (regime/therapy)'),
      activities: [cond('229065009', 'Exercise therapy (regime/therapy)'), cond('226029000', 'Exercises (physical activity)')],
    },
  },
  {
    key: 'hypothyroidism',
    code: cond('40930008', 'Hypothyroidism (disorder)'),
    prevalence: [0.005, 0.03, 0.06, 0.1],
    meds: [MEDS.levothyroxine],
  },
  {
    key: 'depression',
    code: cond('35489007', 'Depressive disorder (disorder)'),
    prevalence: [0.03, 0.09, 0.08, 0.06],
    meds: [MEDS.sertraline],
    goal: { description: 'Improve mood and daily functioning' },
  },
  {
    key: 'atrialFibrillation',
    code: cond('49436004', 'Atrial fibrillation (disorder)'),
    prevalence: [0, 0.002, 0.02, 0.1],
    meds: [MEDS.warfarin],
    device: { code: cond('14106009', 'Cardiac pacemaker, device (physical object)'), implantable: true, probability: 0.3 },
  },
  {
    key: 'coronaryDisease',
    code: cond('53741008', 'Coronary arteriosclerosis (disorder)'),
    prevalence: [0, 0.002, 0.04, 0.14],
    meds: [MEDS.clopidogrel, MEDS.simvastatin],
    device: { code: cond('72506001', 'Implantable defibrillator, device (physical object)'), implantable: true, probability: 0.1 },
  },
  {
    key: 'obesity',
    code: cond('162864005', 'Body mass index 30+ - obesity (finding)'),
    prevalence: [0.08, 0.3, 0.38, 0.3],
    meds: [],
    goal: {
      description: 'Reduce body weight by 5 percent',
      measure: concept(LOINC, '29463-7', 'Body weight'),
    },
    carePlan: {
      category: cond('718361005', 'Weight management program (regime/therapy)'),
      activities: [cond('226234005', 'Healthy diet (finding)'), cond('229065009', 'Exercise therapy (regime/therapy)')],
    },
  },
  {
    key: 'ckd',
    code: cond('433144002', 'Chronic kidney disease stage 3 (disorder)'),
    prevalence: [0, 0.005, 0.04, 0.12],
    meds: [],
    lab: 'bmp',
  },
];

export interface AcuteCondition {
  code: CodeableConcept;
  weight: number;
  meds: readonly Medication[];
  procedure?: CodeableConcept;
  /** Imaging / ECG report written for it. */
  report?: NoteReportKey;
  /** Days until resolved. */
  days: readonly [number, number];
  /** Earliest onset (epoch ms), e.g. COVID-19. */
  notBefore?: number;
}
export const ACUTE_CONDITIONS: readonly AcuteCondition[] = [
  { code: cond('444814009', 'Viral sinusitis (disorder)'), weight: 12, meds: [MEDS.amoxicillin], days: [7, 21] },
  { code: cond('195662009', 'Acute viral pharyngitis (disorder)'), weight: 10, meds: [MEDS.acetaminophen], procedure: PROCEDURES.throatCulture, days: [5, 14] },
  { code: cond('43878008', 'Streptococcal sore throat (disorder)'), weight: 5, meds: [MEDS.penicillin], procedure: PROCEDURES.throatCulture, days: [7, 14] },
  { code: cond('10509002', 'Acute bronchitis (disorder)'), weight: 8, meds: [MEDS.acetaminophen], report: 'chestXray', days: [7, 28] },
  { code: cond('65363002', 'Otitis media (disorder)'), weight: 6, meds: [MEDS.amoxicillin], days: [5, 14] },
  { code: cond('68566005', 'Urinary tract infectious disease (disorder)'), weight: 5, meds: [MEDS.amoxClav], procedure: PROCEDURES.urineCulture, days: [5, 10] },
  { code: cond('44465007', 'Sprain of ankle (disorder)'), weight: 4, meds: [MEDS.ibuprofen], days: [14, 42] },
  { code: cond('279039007', 'Low back pain (finding)'), weight: 6, meds: [MEDS.naproxen], days: [14, 90] },
  { code: cond('6142004', 'Influenza (disorder)'), weight: 4, meds: [MEDS.acetaminophen], days: [5, 14] },
  { code: cond('840539006', 'COVID-19 (disorder)'), weight: 5, meds: [MEDS.acetaminophen], days: [10, 30], notBefore: Date.UTC(2020, 2, 1) },
  { code: cond('284549007', 'Laceration of hand (disorder)'), weight: 3, meds: [MEDS.ibuprofen], procedure: PROCEDURES.suture, days: [10, 21] },
  { code: cond('25374005', 'Gastroenteritis (disorder)'), weight: 4, meds: [], days: [3, 10] },
];
export const EMERGENCY_CONDITIONS: readonly AcuteCondition[] = [
  { code: cond('29857009', 'Chest pain (finding)'), weight: 6, meds: [], procedure: PROCEDURES.ecg, report: 'ecg', days: [1, 7] },
  { code: cond('62106007', 'Concussion with no loss of consciousness (disorder)'), weight: 3, meds: [MEDS.acetaminophen], days: [14, 42] },
  { code: cond('263102004', 'Fracture subluxation of wrist (disorder)'), weight: 3, meds: [MEDS.oxycodoneApap], days: [42, 90] },
  { code: cond('39848009', 'Whiplash injury to neck (disorder)'), weight: 2, meds: [MEDS.ibuprofen], days: [14, 60] },
  { code: cond('10509002', 'Acute bronchitis (disorder)'), weight: 3, meds: [MEDS.acetaminophen], report: 'chestXray', days: [7, 28] },
];
export const INPATIENT_CONDITIONS: readonly AcuteCondition[] = [
  { code: cond('233604007', 'Pneumonia (disorder)'), weight: 5, meds: [MEDS.amoxClav], procedure: PROCEDURES.oxygen, report: 'chestXray', days: [14, 42] },
  { code: cond('22298006', 'Myocardial infarction (disorder)'), weight: 3, meds: [MEDS.clopidogrel], procedure: PROCEDURES.pci, report: 'ecg', days: [30, 90] },
  { code: cond('74400008', 'Appendicitis (disorder)'), weight: 2, meds: [MEDS.oxycodoneApap], procedure: PROCEDURES.appendectomy, days: [14, 30] },
  { code: cond('5913000', 'Fracture of neck of femur (disorder)'), weight: 2, meds: [MEDS.oxycodoneApap], procedure: PROCEDURES.hipReplacement, report: 'chestXray', days: [60, 120] },
];
