import { randomUUID } from 'node:crypto';
import { isValidTenantId, TENANT_ID_RULE } from '../fhir/ids.js';
import type { ClientStore, RegisteredClient } from '../store/ports.js';
import { JwksError, validatePublicJwks } from './jwks.js';
import { validateRegistrationScope } from './scopes.js';
import type { ClientView } from '../manage/views.js';

/**
 * The client registry (the vendor's "code Console"): registration input validation and the JSON view of a client,
 * shared by the `flatfhir client` CLI and the admin API.
 */

export class RegistrationError extends Error {}

export interface ClientRegistration {
  tenant: unknown;
  /** Pre-authorized scopes (space separated): read-only system scopes. */
  scope: unknown;
  name?: unknown;
  /** An inline JWKS of public keys... */
  jwks?: unknown;
  /** ...or the URL of one (http or https). */
  jwksUrl?: unknown;
}

export function validateJwksUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new RegistrationError(`jwks_url "${value}" is not an absolute URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new RegistrationError('jwks_url must be an http or https URL');
  if (url.username || url.password) throw new RegistrationError('jwks_url must not carry credentials');
  if (url.hash) throw new RegistrationError('jwks_url must not have a fragment');
  // Kept exactly as given: an assertion's `jku` must equal this string.
  return value;
}

/** Validates registration input and builds the client to store (with a fresh client id). */
export async function buildClient(input: ClientRegistration, now: number, clientId: string = randomUUID()): Promise<RegisteredClient> {
  if (input.tenant === undefined || input.tenant === null || input.tenant === '') throw new RegistrationError(`tenant is required: ${TENANT_ID_RULE}`);
  if (!isValidTenantId(input.tenant)) throw new RegistrationError(`tenant ${JSON.stringify(input.tenant)} is not a valid tenant id: ${TENANT_ID_RULE}`);
  if (typeof input.scope !== 'string') throw new RegistrationError('scope is required, e.g. "system/*.rs"');
  const scope = validateRegistrationScope(input.scope);
  if (!scope.ok) throw new RegistrationError(`invalid scope: ${scope.reason}`);
  if (input.name !== undefined && input.name !== null && (typeof input.name !== 'string' || input.name.length > 200)) {
    throw new RegistrationError('name must be a string of at most 200 characters');
  }
  const hasJwks = input.jwks !== undefined && input.jwks !== null;
  const hasUrl = input.jwksUrl !== undefined && input.jwksUrl !== null;
  if (hasJwks === hasUrl) throw new RegistrationError('give exactly one of jwks (an inline JWK Set) and jwks_url');
  let jwks: RegisteredClient['jwks'] = null;
  let jwksUrl: string | null = null;
  if (hasJwks) {
    try {
      jwks = (await validatePublicJwks(input.jwks)) as RegisteredClient['jwks'];
    } catch (e) {
      if (e instanceof JwksError) throw new RegistrationError(`invalid jwks: ${e.message}`);
      throw e;
    }
  } else {
    if (typeof input.jwksUrl !== 'string') throw new RegistrationError('jwks_url must be a string');
    jwksUrl = validateJwksUrl(input.jwksUrl);
  }
  return {
    clientId,
    tenant: input.tenant,
    name: typeof input.name === 'string' ? input.name : '',
    jwks,
    jwksUrl,
    scope: scope.scope,
    disabled: false,
    createdAt: now,
  };
}

/** Validates and registers a client. */
export async function registerClient(clients: ClientStore, input: ClientRegistration, now: number = Date.now()): Promise<RegisteredClient> {
  const client = await buildClient(input, now);
  await clients.registerClient(client);
  return client;
}

export const clientView = (c: RegisteredClient): ClientView => ({
  client_id: c.clientId,
  tenant: c.tenant,
  name: c.name,
  scope: c.scope,
  jwks_url: c.jwksUrl,
  jwks: c.jwks,
  disabled: c.disabled,
  created_at: new Date(c.createdAt).toISOString(),
});

export type { ClientView } from '../manage/views.js';
