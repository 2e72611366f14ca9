/**
 * Identifier rules. A tenant id is the path segment of the FHIR base `/r4/{tenant}`: one rule for every place that
 * takes one (CLI, admin API, import, HTTP routes), so a tenant that can be created can also be used.
 */

const TENANT_ID = /^[A-Za-z0-9][A-Za-z0-9\-.]{0,63}$/;

export const isValidTenantId = (id: unknown): id is string => typeof id === 'string' && TENANT_ID.test(id) && !id.includes('..');

/** Why a tenant id is refused, for messages. */
export const TENANT_ID_RULE = 'a tenant id is 1 to 64 letters, digits, "-" and "." (starting with a letter or digit, no "..")';
