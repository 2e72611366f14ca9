import type { ViewDefinition } from './view-definition.js';

/** The canonical base of the ViewDefinitions shipped with flatfhir. */
export const LIBRARY_BASE = 'https://flatfhir.dev/ViewDefinition';

const patientKey = (path: string) => ({ name: 'patient_id', path: `${path}.getReferenceKey(Patient)`, type: 'string' });
const encounterKey = { name: 'encounter_id', path: 'encounter.getReferenceKey(Encounter)', type: 'string' };
const idKey = { name: 'id', path: 'getResourceKey()', type: 'string' };

function view(name: string, title: string, v: Omit<ViewDefinition, 'resourceType' | 'name' | 'url' | 'status' | 'title'>): ViewDefinition {
  return { resourceType: 'ViewDefinition', id: name, url: `${LIBRARY_BASE}/${name}`, name, title, status: 'active', ...v };
}

/**
 * Views shipped with flatfhir (README, "Flat output"): `flatfhir view add --tenant T --library` stores them, and
 * `subjectCanonical` finds them by url. Dates and dateTimes stay FHIR strings (the SQL on FHIR default); quantities
 * are DOUBLE (an `ansi/type` tag) so they sum and average.
 */
export const LIBRARY_VIEWS: readonly ViewDefinition[] = [
  view('patient_demographics', 'Patient demographics', {
    resource: 'Patient',
    select: [
      {
        column: [
          idKey,
          { name: 'gender', path: 'gender', type: 'code' },
          { name: 'birth_date', path: 'birthDate', type: 'date' },
          { name: 'deceased', path: 'deceased.ofType(dateTime).exists() or deceased.ofType(boolean).where($this = true).exists()', type: 'boolean' },
          { name: 'deceased_date', path: 'deceased.ofType(dateTime)', type: 'dateTime' },
          { name: 'marital_status', path: 'maritalStatus.coding.first().code', type: 'code' },
          { name: 'language', path: 'communication.first().language.coding.first().code', type: 'code' },
        ],
      },
      {
        forEachOrNull: "name.where(use = 'official').first() | name.where(use.empty()).first()",
        column: [
          { name: 'family', path: 'family', type: 'string' },
          { name: 'given', path: 'given.join(\' \')', type: 'string' },
        ],
      },
      {
        forEachOrNull: 'address.first()',
        column: [
          { name: 'city', path: 'city', type: 'string' },
          { name: 'state', path: 'state', type: 'string' },
          { name: 'postal_code', path: 'postalCode', type: 'string' },
          { name: 'country', path: 'country', type: 'string' },
        ],
      },
    ],
  }),
  view('encounters', 'Encounters', {
    resource: 'Encounter',
    select: [
      {
        column: [
          idKey,
          patientKey('subject'),
          { name: 'status', path: 'status', type: 'code' },
          { name: 'class_code', path: 'class.code', type: 'code' },
          { name: 'type_system', path: 'type.first().coding.first().system', type: 'uri' },
          { name: 'type_code', path: 'type.first().coding.first().code', type: 'code' },
          { name: 'type_display', path: 'type.first().coding.first().display', type: 'string' },
          { name: 'start', path: 'period.start', type: 'dateTime' },
          { name: 'end', path: 'period.end', type: 'dateTime' },
          { name: 'reason_code', path: 'reasonCode.first().coding.first().code', type: 'code' },
          { name: 'reason_display', path: 'reasonCode.first().coding.first().display', type: 'string' },
          { name: 'service_provider_id', path: 'serviceProvider.getReferenceKey(Organization)', type: 'string' },
        ],
      },
    ],
  }),
  view('conditions', 'Conditions', {
    resource: 'Condition',
    select: [
      {
        column: [
          idKey,
          patientKey('subject'),
          encounterKey,
          { name: 'clinical_status', path: 'clinicalStatus.coding.first().code', type: 'code' },
          { name: 'verification_status', path: 'verificationStatus.coding.first().code', type: 'code' },
          { name: 'code_system', path: 'code.coding.first().system', type: 'uri' },
          { name: 'code', path: 'code.coding.first().code', type: 'code' },
          { name: 'display', path: 'code.coding.first().display', type: 'string' },
          { name: 'onset', path: 'onset.ofType(dateTime)', type: 'dateTime' },
          { name: 'abatement', path: 'abatement.ofType(dateTime)', type: 'dateTime' },
          { name: 'recorded_date', path: 'recordedDate', type: 'dateTime' },
        ],
      },
    ],
  }),
  view('observations', 'Observations with their components and values', {
    resource: 'Observation',
    select: [
      {
        column: [
          idKey,
          patientKey('subject'),
          encounterKey,
          { name: 'status', path: 'status', type: 'code' },
          { name: 'category', path: 'category.first().coding.first().code', type: 'code' },
          { name: 'effective', path: 'effective.ofType(dateTime)', type: 'dateTime' },
          { name: 'issued', path: 'issued', type: 'instant' },
        ],
      },
      {
        // One row for the observation's own code and value, one more for each component.
        unionAll: [
          {
            column: [
              { name: 'component', path: '{}', type: 'integer' },
              { name: 'code_system', path: 'code.coding.first().system', type: 'uri' },
              { name: 'code', path: 'code.coding.first().code', type: 'code' },
              { name: 'display', path: 'code.coding.first().display', type: 'string' },
              { name: 'value_quantity', path: 'value.ofType(Quantity).value', type: 'decimal', tags: [{ name: 'ansi/type', value: 'DOUBLE' }] },
              { name: 'value_unit', path: 'value.ofType(Quantity).code', type: 'code' },
              { name: 'value_code', path: 'value.ofType(CodeableConcept).coding.first().code', type: 'code' },
              { name: 'value_display', path: 'value.ofType(CodeableConcept).coding.first().display', type: 'string' },
              { name: 'value_string', path: 'value.ofType(string)', type: 'string' },
              { name: 'value_boolean', path: 'value.ofType(boolean)', type: 'boolean' },
            ],
          },
          {
            forEach: 'component',
            column: [
              { name: 'component', path: '%rowIndex', type: 'integer' },
              { name: 'code_system', path: 'code.coding.first().system', type: 'uri' },
              { name: 'code', path: 'code.coding.first().code', type: 'code' },
              { name: 'display', path: 'code.coding.first().display', type: 'string' },
              { name: 'value_quantity', path: 'value.ofType(Quantity).value', type: 'decimal', tags: [{ name: 'ansi/type', value: 'DOUBLE' }] },
              { name: 'value_unit', path: 'value.ofType(Quantity).code', type: 'code' },
              { name: 'value_code', path: 'value.ofType(CodeableConcept).coding.first().code', type: 'code' },
              { name: 'value_display', path: 'value.ofType(CodeableConcept).coding.first().display', type: 'string' },
              { name: 'value_string', path: 'value.ofType(string)', type: 'string' },
              { name: 'value_boolean', path: 'value.ofType(boolean)', type: 'boolean' },
            ],
          },
        ],
      },
    ],
  }),
  view('medication_requests', 'Medication requests', {
    resource: 'MedicationRequest',
    select: [
      {
        column: [
          idKey,
          patientKey('subject'),
          encounterKey,
          { name: 'status', path: 'status', type: 'code' },
          { name: 'intent', path: 'intent', type: 'code' },
          { name: 'authored_on', path: 'authoredOn', type: 'dateTime' },
          { name: 'medication_system', path: 'medication.ofType(CodeableConcept).coding.first().system', type: 'uri' },
          { name: 'medication_code', path: 'medication.ofType(CodeableConcept).coding.first().code', type: 'code' },
          { name: 'medication_display', path: 'medication.ofType(CodeableConcept).coding.first().display', type: 'string' },
          { name: 'medication_id', path: 'medication.ofType(Reference).getReferenceKey(Medication)', type: 'string' },
          { name: 'requester_id', path: 'requester.getReferenceKey()', type: 'string' },
        ],
      },
    ],
  }),
  view('immunizations', 'Immunizations', {
    resource: 'Immunization',
    select: [
      {
        column: [
          idKey,
          patientKey('patient'),
          encounterKey,
          { name: 'status', path: 'status', type: 'code' },
          { name: 'occurrence', path: 'occurrence.ofType(dateTime)', type: 'dateTime' },
          { name: 'vaccine_system', path: 'vaccineCode.coding.first().system', type: 'uri' },
          { name: 'vaccine_code', path: 'vaccineCode.coding.first().code', type: 'code' },
          { name: 'vaccine_display', path: 'vaccineCode.coding.first().display', type: 'string' },
          { name: 'primary_source', path: 'primarySource', type: 'boolean' },
        ],
      },
    ],
  }),
];
