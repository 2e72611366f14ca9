import { type AdminModule, ERROR_RESPONSES } from './common.js';

const MEMBER = {
  type: 'object',
  properties: { patient: { type: 'string' }, period_start: { type: 'string', nullable: true }, inactive: { type: 'boolean' } },
} as const;

export const GROUP = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    tenant: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string', enum: ['static', 'dynamic'] },
    identifier: { type: 'array', items: { type: 'object', properties: { system: { type: 'string' }, value: { type: 'string' } } } },
    version: { type: 'integer', description: 'the Group resource version (each member change makes one)' },
    last_updated: { type: 'string', format: 'date-time' },
    member_count: { type: 'integer' },
    criteria: { type: 'array', items: { type: 'string' }, description: 'dynamic groups: the member-filter criteria' },
    relative: { type: 'boolean', description: 'dynamic groups: whether the criteria use relative dates' },
    bulk_cohort_api: { type: 'boolean', description: 'whether a client created it through the Bulk Cohort API (POST [base]/Group)' },
    members: { type: 'array', items: MEMBER },
    evaluated_at: { type: 'string', format: 'date-time' },
    as_of_job: { type: 'string' },
  },
} as const;

const PATIENTS = { type: 'array', items: { type: 'string', maxLength: 80 }, maxItems: 100_000, description: 'Patient ids (or Patient/id)' } as const;
const tags = ['groups'];
const tenantParams = { type: 'object', required: ['tenant'], properties: { tenant: { type: 'string', maxLength: 64 } } } as const;
const groupParams = { type: 'object', required: ['tenant', 'id'], properties: { tenant: { type: 'string', maxLength: 64 }, id: { type: 'string', maxLength: 64 } } } as const;
const membersBody = { type: 'object', required: ['patients'], additionalProperties: false, properties: { patients: PATIENTS } } as const;
const CONFLICT = { $ref: 'OperationOutcome#', description: 'A group with this id exists' };

type GroupRoute = { Params: { tenant: string; id: string } };

/**
 * Groups of a tenant (stored as FHIR Group resources, so every change is a new version):
 * `GET|POST /admin/tenants/:tenant/groups`, `GET|DELETE /admin/tenants/:tenant/groups/:id[?as_of=JOB]`,
 * `POST …/:id/members` (add), `POST …/:id/members/remove`, `POST …/:id/members/inactive` `{ patients, inactive? }`.
 */
export const groupsAdmin: AdminModule = (app, { manage }) => {
  const g = manage.groups;

  app.get<{ Params: { tenant: string } }>(
    '/admin/tenants/:tenant/groups',
    { schema: { tags, summary: 'List the groups of a tenant', params: tenantParams, response: { 200: { type: 'object', properties: { groups: { type: 'array', items: GROUP } } }, ...ERROR_RESPONSES } } },
    async (request) => ({ groups: await g.list(request.params.tenant) }),
  );

  app.post<{ Params: { tenant: string }; Body: { name: string; id?: string; identifier?: string; patients?: string[]; from_search?: string; member_filter?: string[] } }>(
    '/admin/tenants/:tenant/groups',
    {
      schema: {
        tags,
        summary: 'Create a static group (patients, or a snapshot of a search) or a dynamic one (member-filter criteria)',
        params: tenantParams,
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 200 },
            id: { type: 'string', maxLength: 64 },
            identifier: { type: 'string', description: 'system|value or value' },
            patients: PATIENTS,
            from_search: { type: 'string', maxLength: 4000, description: 'e.g. Patient?gender=female: the patients it matches now become the members' },
            member_filter: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', maxLength: 4000 }, description: 'dynamic group criteria, e.g. Encounter?date=ge-7d' },
          },
        },
        response: { 201: GROUP, ...ERROR_RESPONSES, 409: CONFLICT },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const group = await g.create({
        tenant: request.params.tenant,
        name: b.name,
        ...(b.id !== undefined ? { id: b.id } : {}),
        ...(b.identifier !== undefined ? { identifier: b.identifier } : {}),
        ...(b.patients !== undefined ? { patients: b.patients } : {}),
        ...(b.from_search !== undefined ? { fromSearch: b.from_search } : {}),
        ...(b.member_filter !== undefined ? { memberFilter: b.member_filter } : {}),
      });
      return reply.code(201).header('location', `/admin/tenants/${group.tenant}/groups/${group.id}`).send(group);
    },
  );

  app.get<GroupRoute & { Querystring: { as_of?: string } }>(
    '/admin/tenants/:tenant/groups/:id',
    {
      schema: {
        tags,
        summary: 'Show a group with its members (a dynamic group evaluated now, or as a job recorded it)',
        params: groupParams,
        querystring: { type: 'object', properties: { as_of: { type: 'string', description: 'an export job id: the members it exported' } } },
        response: { 200: GROUP, ...ERROR_RESPONSES },
      },
    },
    async (request) => g.show(request.params.tenant, request.params.id, request.query.as_of !== undefined ? { asOfJob: request.query.as_of } : {}),
  );

  app.delete<GroupRoute>(
    '/admin/tenants/:tenant/groups/:id',
    {
      schema: {
        tags,
        summary: 'Remove a group',
        params: groupParams,
        response: { 200: { type: 'object', properties: { id: { type: 'string' }, tenant: { type: 'string' }, removed: { type: 'boolean' } } }, ...ERROR_RESPONSES },
      },
    },
    async (request) => g.remove(request.params.tenant, request.params.id),
  );

  app.post<GroupRoute & { Body: { patients: string[] } }>(
    '/admin/tenants/:tenant/groups/:id/members',
    { schema: { tags, summary: 'Add members (period.start set to now)', params: groupParams, body: membersBody, response: { 200: GROUP, ...ERROR_RESPONSES } } },
    async (request) => g.addMembers(request.params.tenant, request.params.id, request.body.patients),
  );

  app.post<GroupRoute & { Body: { patients: string[] } }>(
    '/admin/tenants/:tenant/groups/:id/members/remove',
    { schema: { tags, summary: 'Remove members', params: groupParams, body: membersBody, response: { 200: GROUP, ...ERROR_RESPONSES } } },
    async (request) => g.removeMembers(request.params.tenant, request.params.id, request.body.patients),
  );

  app.post<GroupRoute & { Body: { patients: string[]; inactive?: boolean } }>(
    '/admin/tenants/:tenant/groups/:id/members/inactive',
    {
      schema: {
        tags,
        summary: 'Mark members inactive (inactive: false makes them active again)',
        params: groupParams,
        body: { type: 'object', required: ['patients'], additionalProperties: false, properties: { patients: PATIENTS, inactive: { type: 'boolean', default: true } } },
        response: { 200: GROUP, ...ERROR_RESPONSES },
      },
    },
    async (request) => g.setInactive(request.params.tenant, request.params.id, request.body.patients, request.body.inactive !== false),
  );
};
