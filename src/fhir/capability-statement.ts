import { BULK_COHORT_PROFILE, MEMBER_FILTER_URL } from './group.js';
import { EXPORT_TYPES } from './resource-types.js';
import { INDEXED_PARAMS } from './search-values.js';

export const BULK_DATA_CAPABILITY = 'http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data';
export const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

export const OPERATION_URLS = {
  'group-export': 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export',
  'patient-export': 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export',
  export: 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export',
} as const;

export type OperationName = keyof typeof OPERATION_URLS;

/** Marks what the REST API offers but the bulk export does not (Bulk Data v3). */
export const OPERATION_NOT_SUPPORTED = 'http://hl7.org/fhir/uv/bulkdata/Extension/operation-not-supported';

/** The extensions saying a resource type readable over REST is exported by none of the bulk operations. */
const notExported = (): { url: string; valueCanonical: string }[] =>
  Object.values(OPERATION_URLS).map((valueCanonical) => ({ url: OPERATION_NOT_SUPPORTED, valueCanonical }));

const SINCE_DOC =
  'For a Group export with _since, patients who joined the group after _since (a member period starting after it, ' +
  'or absent from the group as it stood then) get their full history; other members get what changed after _since.';

const V3_DOC =
  ' Bulk Data v3: organizeOutputBy=Patient (patient blocks), allowPartialManifests (manifest pages while the job runs), ' +
  'Prefer: respond-async, separate-export-status.';

/** The Bulk Cohort API as the IG's "Server Capability Documentation" asks: membership updates and member-filter parameters. */
export function bulkCohortDocumentation(): string {
  const params = Object.entries(INDEXED_PARAMS)
    .map(([type, names]) => `- ${type}: ${names.join(', ')}`)
    .join('\n');
  return [
    'Bulk Cohort API (Bulk Data Access IG v3): `POST [base]/Group` with a Group of the Bulk Cohort profile ' +
      `(one or more \`${MEMBER_FILTER_URL}\` modifier extensions, \`type: person\`, \`actual: false\`, a \`name\`), ` +
      'with `Prefer: respond-async` (status at the Content-Location URL: 202 while pending, then 200 with a batch-response Bundle; DELETE cancels) or synchronously (201). ' +
      'Creating needs `system/Group.c` (or `.cd`, `.crds`) in the token; deleting (`DELETE [base]/Group/[id]`, cohorts and other criteria-defined groups only) needs `system/Group.d`. ' +
      'A criterion that cannot be evaluated is refused (422, nothing stored).',
    'Membership: evaluated from the criteria at each export\'s kick-off (relative dates such as `date=ge-7d` against the kick-off instant), never stored, so `members-refreshed` is never set. A cohort matching more patients than a group may have is refused at creation.',
    'member-filter expressions (`application/x-fhir-query`): `Type?param=value&…` over Patient and these patient-compartment types; every criterion must match (one resource of its type in the patient\'s compartment matching all its parameters). ' +
      'Values: token `code`, `system|code`, `|code`, `system|`; string (starts with, case and accents ignored; `:contains`); reference `Type/id`; date with `eq`, `gt`, `lt`, `ge`, `le`, `sa`, `eb` and FHIR dates or times relative to the kick-off (`-7d`, `-12h`, `-2w`). ' +
      'Commas separate alternatives. No chains, no other modifiers, no result parameters. Supported parameters:',
    params,
  ].join('\n\n');
}

export function capabilityStatement(base: string, tokenUrl: string, version: string): Record<string, unknown> {
  const exportOp = (name: OperationName, exportName: 'export' | OperationName, doc: string) => ({
    name: exportName,
    definition: OPERATION_URLS[name],
    documentation: `${doc}${V3_DOC}`,
  });
  const groupDoc = `Exports the data of the group's active members (inactive members and ended member periods are excluded). ${SINCE_DOC}`;
  const patientDoc =
    'Exports the data of all patients (GET) or of the patients listed in a POSTed Parameters resource (at most the configured maximum, 20,000 by default).';
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-11-25',
    kind: 'instance',
    instantiates: [BULK_DATA_CAPABILITY],
    software: { name: 'flatfhir', version },
    implementation: { description: 'flatfhir FHIR Bulk Data Access server', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        documentation:
          'Extension of the Bulk Data Access IG: `GET [base]/bulk-export/jobs` lists the calling client\'s own export jobs (not deleted nor expired), newest first, each with its status URL, state and request, so that a client that lost a status URL can poll or DELETE it (a client has one export in progress at a time).',
        security: {
          extension: [
            {
              url: OAUTH_URIS,
              extension: [{ url: 'token', valueUri: tokenUrl }],
            },
          ],
          service: [
            {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/restful-security-service', code: 'SMART-on-FHIR' }],
            },
          ],
          description: 'SMART Backend Services: OAuth 2.0 client credentials with a signed JWT assertion (RS384 or ES384).',
        },
        // The exported types first, Patient leading: clients (and test suites) that take the first types listed
        // here for a `_type` then ask for types that can be exported.
        resource: [
          {
            type: 'Patient',
            operation: [exportOp('patient-export', 'export', patientDoc), exportOp('patient-export', 'patient-export', patientDoc)],
          },
          ...EXPORT_TYPES.filter((t) => t !== 'Patient').map((type) => ({ type })),
          {
            type: 'Group',
            extension: notExported(),
            supportedProfile: [BULK_COHORT_PROFILE],
            documentation: bulkCohortDocumentation(),
            // A client finds the groups it was given (fhir-read.ts): `_summary=count`, `_count` and `_offset` too.
            // Create and delete: the Bulk Cohort API (cohort.ts).
            interaction: [{ code: 'read' }, { code: 'search-type' }, { code: 'create' }, { code: 'delete' }],
            searchParam: [
              { name: '_id', type: 'token' },
              { name: 'identifier', type: 'token' },
              { name: 'name', type: 'string', documentation: 'Starts with (case and accents ignored); `name:exact` and `name:contains` too.' },
            ],
            operation: [exportOp('group-export', 'export', groupDoc), exportOp('group-export', 'group-export', groupDoc)],
          },
          // Binary is the target of attachment URLs; neither it nor Group or OperationDefinition is ever exported.
          { type: 'Binary', extension: notExported(), interaction: [{ code: 'read' }] },
          { type: 'OperationDefinition', extension: notExported(), interaction: [{ code: 'read' }] },
        ],
        operation: [exportOp('export', 'export', `Exports the data of the whole tenant. ${SINCE_DOC}`)],
      },
    ],
  };
}

const COMMON_PARAMETERS = [
  { name: '_outputFormat', use: 'in', min: 0, max: '1', type: 'string' },
  { name: '_since', use: 'in', min: 0, max: '1', type: 'instant' },
  { name: '_until', use: 'in', min: 0, max: '1', type: 'instant' },
  { name: '_type', use: 'in', min: 0, max: '*', type: 'string' },
  { name: '_elements', use: 'in', min: 0, max: '*', type: 'string' },
  { name: 'includeAssociatedData', use: 'in', min: 0, max: '*', type: 'code' },
  { name: '_typeFilter', use: 'in', min: 0, max: '*', type: 'string' },
  // Bulk Data v3 (STU3)
  { name: 'organizeOutputBy', use: 'in', min: 0, max: '1', type: 'string' },
  { name: 'allowPartialManifests', use: 'in', min: 0, max: '1', type: 'boolean' },
];

export function operationDefinition(name: OperationName): Record<string, unknown> {
  const level =
    name === 'group-export'
      ? { resource: ['Group'], system: false, type: false, instance: true }
      : name === 'patient-export'
        ? { resource: ['Patient'], system: false, type: true, instance: false }
        : { system: true, type: false, instance: false };
  const parameters = [...COMMON_PARAMETERS];
  if (name !== 'export') parameters.push({ name: 'patient', use: 'in', min: 0, max: '*', type: 'Reference' });
  return {
    resourceType: 'OperationDefinition',
    id: name,
    url: OPERATION_URLS[name],
    version: '2.0.0',
    name: name === 'group-export' ? 'GroupLevelExport' : name === 'patient-export' ? 'PatientLevelExport' : 'SystemLevelExport',
    status: 'active',
    kind: 'operation',
    code: 'export',
    affectsState: false,
    ...level,
    parameter: parameters,
  };
}
