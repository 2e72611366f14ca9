/** The resource types flatfhir exports, as the vendor docs list them. */
export const CLINICAL_TYPES = [
  'AllergyIntolerance',
  'CarePlan',
  'CareTeam',
  'Condition',
  'Coverage',
  'Device',
  'DiagnosticReport',
  'DocumentReference',
  'Encounter',
  'Goal',
  'Immunization',
  'MedicationDispense',
  'MedicationRequest',
  'Observation',
  'Patient',
  'Procedure',
  'ServiceRequest',
  'RelatedPerson',
] as const;

/** Exported only as referenced by exported clinical resources. */
export const REFERENCE_TYPES = ['Location', 'Organization', 'Practitioner'] as const;

/** Associated data: Provenance targeting exported resources. */
export const ASSOCIATED_TYPES = ['Provenance'] as const;

export const EXPORT_TYPES: readonly string[] = [...CLINICAL_TYPES, ...REFERENCE_TYPES, ...ASSOCIATED_TYPES];

export const isReferenceType = (t: string): boolean => (REFERENCE_TYPES as readonly string[]).includes(t);
/** Clinical (patient data) types, as opposed to the shared resources and Provenance that follow them. */
export const isClinicalType = (t: string): boolean => !isReferenceType(t) && t !== 'Provenance';
