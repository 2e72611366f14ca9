/** What every admin module shares: its context and the schemas of the answers all routes may give. */
import type { FastifyInstance } from 'fastify';
import type { Management } from '../../../manage/index.js';
import type { AppContext } from '../../context.js';

export interface AdminContext extends AppContext {
  /** The domain services the admin routes (and the CLI) call; routes hold no logic of their own. */
  manage: Management;
}

/** A module of the admin API: registers its routes (each with a schema and a tag) on the admin plugin. */
export type AdminModule = (app: FastifyInstance, ctx: AdminContext) => void | Promise<void>;

export const OPERATION_OUTCOME_SCHEMA = {
  $id: 'OperationOutcome',
  type: 'object',
  description: 'An error: FHIR OperationOutcome (Content-Type application/fhir+json).',
  properties: {
    resourceType: { type: 'string', enum: ['OperationOutcome'] },
    issue: {
      type: 'array',
      items: {
        type: 'object',
        properties: { severity: { type: 'string' }, code: { type: 'string' }, diagnostics: { type: 'string' } },
      },
    },
  },
} as const;

const outcomeRef = { $ref: 'OperationOutcome#' };

/** The error answers every admin route may give, for the OpenAPI description. */
export const ERROR_RESPONSES = {
  400: { ...outcomeRef, description: 'Invalid input' },
  401: { ...outcomeRef, description: 'Missing or wrong admin token' },
  403: { ...outcomeRef, description: 'A client access token instead of the admin token' },
  404: { ...outcomeRef, description: 'No such thing' },
} as const;

/** A route's `{ id }` path parameter. */
export const idParams = (description: string) =>
  ({ type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 200, description } } }) as const;

/** A JSON object of any shape (left to the domain validation, which words its own errors). */
export const ANY_OBJECT = { type: 'object', additionalProperties: true } as const;
