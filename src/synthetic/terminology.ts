/**
 * Code systems, profiles and the coded concepts the synthetic population draws from. Concepts are built once
 * as shared objects: JSON.stringify serialises a shared object as often as it is referenced, which keeps the
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

// ---------------------------------------------------------------- status and category codes

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

export const DOCUMENT_CATEGORY = [
  codeOnly('http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category', 'clinical-note', 'Clinical Note'),
];
export const DOCUMENT_FORMAT = coding(
  'http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode',
  'urn:ihe:iti:xds:2017:mimeTypeSufficient',
  'mimeType Sufficient',
);

const ACT_CODE = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const ENCOUNTER_CLASS = {
  AMB: coding(ACT_CODE, 'AMB', 'ambulatory'),
  EMER: coding(ACT_CODE, 'EMER', 'emergency'),
  IMP: coding(ACT_CODE, 'IMP', 'inpatient encounter'),
  VR: coding(ACT_CODE, 'VR', 'virtual'),
};
export const PARTICIPANT_PRIMARY = [
  codeOnly('http://terminology.hl7.org/CodeSystem/v3-ParticipationType', 'PPRF', 'primary performer'),
];
export const PARTICIPANT_ATTENDER = [
  codeOnly('http://terminology.hl7.org/CodeSystem/v3-ParticipationType', 'ATND', 'attender'),
];
export const DISCHARGE_HOME = codeOnly('http://terminology.hl7.org/CodeSystem/discharge-disposition', 'home', 'Home');

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

const ALLERGY_CLINICAL = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical';
const ALLERGY_VER = 'http://terminology.hl7.org/CodeSystem/allergyintolerance-verification';
export const ALLERGY_STATUS = {
  active: codeOnly(ALLERGY_CLINICAL, 'active', 'Active'),
  confirmed: codeOnly(ALLERGY_VER, 'confirmed', 'Confirmed'),
  unconfirmed: codeOnly(ALLERGY_VER, 'unconfirmed', 'Unconfirmed'),
};

export const MED_REQUEST_CATEGORY = {
  community: [codeOnly('http://terminology.hl7.org/CodeSystem/medicationrequest-category', 'community', 'Community')],
  inpatient: [codeOnly('http://terminology.hl7.org/CodeSystem/medicationrequest-category', 'inpatient', 'Inpatient')],
};
export const DISPENSE_FIRST_FILL = codeOnly(ACT_CODE, 'FF', 'First Fill');
export const DISPENSE_REFILL = codeOnly(ACT_CODE, 'RF', 'Refill');

export const SERVICE_CATEGORY_LAB = [concept(SNOMED, '108252007', 'Laboratory procedure')];
export const SERVICE_CATEGORY_IMAGING = [concept(SNOMED, '363679005', 'Imaging')];

export const CAREPLAN_ASSESS_PLAN = codeOnly(
  'http://hl7.org/fhir/us/core/CodeSystem/careplan-category',
  'assess-plan',
  'Assessment and Plan of Treatment',
);
export const CARE_TEAM_ROLE = {
  professional: [concept(SNOMED, '223366009', 'Healthcare professional (occupation)')],
  patient: [concept(SNOMED, '116154003', 'Patient (person)')],
  caregiver: [concept(SNOMED, '133932002', 'Caregiver (person)')],
  organization: [concept(SNOMED, '224891009', 'Healthcare services (qualifier value)')],
};

const GOAL_ACHIEVEMENT = 'http://terminology.hl7.org/CodeSystem/goal-achievement';
export const GOAL_IN_PROGRESS = codeOnly(GOAL_ACHIEVEMENT, 'in-progress', 'In Progress');
export const GOAL_ACHIEVED = codeOnly(GOAL_ACHIEVEMENT, 'achieved', 'Achieved');

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
export const IDENTIFIER_TYPE = {
  MR: concept('http://terminology.hl7.org/CodeSystem/v2-0203', 'MR', 'Medical Record Number'),
  SS: concept('http://terminology.hl7.org/CodeSystem/v2-0203', 'SS', 'Social Security Number'),
  MB: concept('http://terminology.hl7.org/CodeSystem/v2-0203', 'MB', 'Member Number'),
  PRN: concept('http://terminology.hl7.org/CodeSystem/v2-0203', 'PRN', 'Provider number'),
};

const ROLE_CODE = 'http://terminology.hl7.org/CodeSystem/v3-RoleCode';
export const RELATIONSHIP = {
  mother: concept(ROLE_CODE, 'MTH', 'mother'),
  father: concept(ROLE_CODE, 'FTH', 'father'),
  spouse: concept(ROLE_CODE, 'SPS', 'spouse'),
  child: concept(ROLE_CODE, 'CHILD', 'child'),
  sibling: concept(ROLE_CODE, 'SIB', 'sibling'),
  friend: concept(ROLE_CODE, 'FRND', 'unrelated friend'),
  emergencyContact: concept('http://terminology.hl7.org/CodeSystem/v2-0131', 'C', 'Emergency Contact'),
};
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

const MARITAL = 'http://terminology.hl7.org/CodeSystem/v3-MaritalStatus';
export const MARITAL_STATUS = {
  married: concept(MARITAL, 'M', 'Married'),
  single: concept(MARITAL, 'S', 'Never Married'),
  divorced: concept(MARITAL, 'D', 'Divorced'),
  widowed: concept(MARITAL, 'W', 'Widowed'),
};
const LANGUAGE = 'urn:ietf:bcp:47';
export const LANGUAGES = {
  english: { language: concept(LANGUAGE, 'en-US', 'English (United States)', 'English'), preferred: true },
  spanish: { language: concept(LANGUAGE, 'es', 'Spanish', 'Spanish'), preferred: true },
  chinese: { language: concept(LANGUAGE, 'zh', 'Chinese', 'Chinese'), preferred: true },
  vietnamese: { language: concept(LANGUAGE, 'vi', 'Vietnamese', 'Vietnamese'), preferred: true },
};

const OMB = 'urn:oid:2.16.840.1.113883.6.238';
const RACE_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-race';
const ETHNICITY_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-ethnicity';
const omb = (url: string, code: string, display: string): object => ({
  url,
  extension: [
    { url: 'ombCategory', valueCoding: { system: OMB, code, display } },
    { url: 'text', valueString: display },
  ],
});
export const RACES: readonly (readonly [object, number])[] = [
  [omb(RACE_URL, '2106-3', 'White'), 60],
  [omb(RACE_URL, '2054-5', 'Black or African American'), 13],
  [omb(RACE_URL, '2028-9', 'Asian'), 6],
  [omb(RACE_URL, '1002-5', 'American Indian or Alaska Native'), 1],
  [omb(RACE_URL, '2076-8', 'Native Hawaiian or Other Pacific Islander'), 1],
  [omb(RACE_URL, '2131-1', 'Other Race'), 5],
];
export const ETHNICITY_HISPANIC = omb(ETHNICITY_URL, '2135-2', 'Hispanic or Latino');
export const ETHNICITY_NOT_HISPANIC = omb(ETHNICITY_URL, '2186-5', 'Not Hispanic or Latino');
const BIRTH_SEX_URL = 'http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex';
export const BIRTH_SEX = {
  female: { url: BIRTH_SEX_URL, valueCode: 'F' },
  male: { url: BIRTH_SEX_URL, valueCode: 'M' },
};

// ---------------------------------------------------------------- encounters

export interface EncounterKind {
  key: 'wellness' | 'followup' | 'acute' | 'emergency' | 'inpatient' | 'virtual';
  cls: Coding;
  type: CodeableConcept[];
  /** LOINC document type of the note written for it. */
  note: CodeableConcept;
}
const NOTE_PROGRESS = concept(LOINC, '11506-3', 'Progress note');
export const ENCOUNTER_KINDS: Record<EncounterKind['key'], EncounterKind> = {
  wellness: {
    key: 'wellness',
    cls: ENCOUNTER_CLASS.AMB,
    type: [concept(SNOMED, '162673000', 'General examination of patient (procedure)', 'General examination')],
    note: concept(LOINC, '34117-2', 'History and physical note'),
  },
  followup: {
    key: 'followup',
    cls: ENCOUNTER_CLASS.AMB,
    type: [concept(SNOMED, '390906007', 'Follow-up encounter (procedure)', 'Follow-up encounter')],
    note: NOTE_PROGRESS,
  },
  acute: {
    key: 'acute',
    cls: ENCOUNTER_CLASS.AMB,
    type: [concept(SNOMED, '185345009', 'Encounter for symptom (procedure)', 'Encounter for symptom')],
    note: NOTE_PROGRESS,
  },
  emergency: {
    key: 'emergency',
    cls: ENCOUNTER_CLASS.EMER,
    type: [concept(SNOMED, '50849002', 'Emergency room admission (procedure)', 'Emergency room admission')],
    note: concept(LOINC, '34111-5', 'Emergency department note'),
  },
  inpatient: {
    key: 'inpatient',
    cls: ENCOUNTER_CLASS.IMP,
    type: [concept(SNOMED, '183452005', 'Emergency hospital admission (procedure)', 'Hospital admission')],
    note: concept(LOINC, '18842-5', 'Discharge summary'),
  },
  virtual: {
    key: 'virtual',
    cls: ENCOUNTER_CLASS.VR,
    type: [concept(SNOMED, '185317003', 'Telephone encounter (procedure)', 'Telephone encounter')],
    note: concept(LOINC, '11488-4', 'Consult note'),
  },
};

// ---------------------------------------------------------------- medications, procedures, vaccines

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

export interface Vaccine {
  code: CodeableConcept;
  minAge: number;
  maxAge: number;
}
const vax = (code: string, display: string, minAge: number, maxAge: number): Vaccine => ({
  code: concept(CVX, code, display),
  minAge,
  maxAge,
});
export const FLU_VACCINE = vax('140', 'Influenza, seasonal, injectable, preservative free', 0.5, 120);
export const COVID_VACCINE = vax('208', 'SARS-COV-2 (COVID-19) vaccine, mRNA, spike protein, LNP, preservative free, 30 mcg/0.3mL dose', 12, 120);
export const ROUTINE_VACCINES: readonly Vaccine[] = [
  vax('08', 'Hep B, adolescent or pediatric', 0, 1),
  vax('20', 'DTaP', 0.1, 7),
  vax('10', 'IPV', 0.1, 7),
  vax('49', 'Hib (PRP-OMP)', 0.1, 5),
  vax('133', 'Pneumococcal conjugate PCV 13', 0.1, 5),
  vax('03', 'MMR', 1, 7),
  vax('21', 'varicella', 1, 13),
  vax('83', 'Hep A, ped/adol, 2 dose', 1, 19),
  vax('62', 'HPV, quadrivalent', 9, 27),
  vax('114', 'meningococcal MCV4P', 11, 19),
  vax('115', 'Tdap', 11, 120),
  vax('113', 'Td (adult), 5 Lf tetanus toxoid, preservative free, adsorbed', 19, 120),
  vax('187', 'zoster recombinant', 50, 120),
  vax('33', 'pneumococcal polysaccharide vaccine, 23 valent', 65, 120),
];

// ---------------------------------------------------------------- conditions

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

// ---------------------------------------------------------------- allergies and devices

export interface Allergy {
  code: CodeableConcept;
  category: 'food' | 'medication' | 'environment';
  reactions: readonly CodeableConcept[];
}
const REACTIONS = {
  rash: cond('271807003', 'Eruption of skin (disorder)'),
  hives: cond('247472004', 'Wheal (finding)'),
  itching: cond('418290006', 'Itching (finding)'),
  sneezing: cond('76067001', 'Sneezing (finding)'),
  anaphylaxis: cond('39579001', 'Anaphylaxis (disorder)'),
  cough: cond('49727002', 'Cough (finding)'),
};
export const ALLERGIES: readonly Allergy[] = [
  { code: cond('91936005', 'Allergy to penicillin (finding)'), category: 'medication', reactions: [REACTIONS.rash, REACTIONS.hives] },
  { code: cond('294505008', 'Allergy to sulfonamides (finding)'), category: 'medication', reactions: [REACTIONS.rash] },
  { code: cond('91935009', 'Allergy to peanuts (finding)'), category: 'food', reactions: [REACTIONS.anaphylaxis, REACTIONS.hives] },
  { code: cond('300913006', 'Shellfish allergy (finding)'), category: 'food', reactions: [REACTIONS.hives, REACTIONS.itching] },
  { code: cond('91930004', 'Allergy to eggs (finding)'), category: 'food', reactions: [REACTIONS.rash] },
  { code: cond('418689008', 'Allergy to grass pollen (finding)'), category: 'environment', reactions: [REACTIONS.sneezing, REACTIONS.cough] },
  { code: cond('232350006', 'House dust mite allergy (finding)'), category: 'environment', reactions: [REACTIONS.sneezing] },
  { code: cond('232347008', 'Dander (animal) allergy (finding)'), category: 'environment', reactions: [REACTIONS.sneezing, REACTIONS.itching] },
  { code: cond('300916003', 'Latex allergy (finding)'), category: 'environment', reactions: [REACTIONS.rash, REACTIONS.itching] },
];
export const NO_KNOWN_ALLERGY = cond('716186003', 'No known allergy (situation)');

// ---------------------------------------------------------------- observations and reports

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

export const DOCUMENT_CONTENT_TYPES: readonly (readonly [string, number])[] = [
  ['text/html', 30],
  ['text/plain', 25],
  ['text/xml', 15],
  ['application/xhtml+xml', 15],
  ['application/pdf', 15],
];
