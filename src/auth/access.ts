/** What every FHIR and bulk route knows about its caller once the access-control hook has run. */
export interface Caller {
  clientId: string;
  tenant: string;
  /** Granted scopes, as issued in the access token (space separated). */
  scope: string;
  /** Whether the caller may read resources of this type. */
  canRead(type: string): boolean;
  /** Whether the caller may create (`c`) or delete (`d`) resources of this type (only Group is ever granted). */
  canWrite(type: string, permission: 'c' | 'd'): boolean;
}

/** The access-control hook in front of every FHIR and bulk endpoint but discovery and metadata. */
export interface AccessControl {
  /**
   * Verifies the `Authorization` header for a tenant's FHIR base. Throws a FhirError: 401 (missing, invalid or
   * expired token, with `WWW-Authenticate: Bearer`) or 403 (unknown tenant, or a token of another tenant).
   */
  authenticate(tenant: string, authorization: string | undefined): Promise<Caller>;
}
