/** RFC 6749 §5.2 error codes the token endpoint answers with (plus `slow_down` for rate limiting, from RFC 8628). */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  | 'slow_down'
  | 'server_error';

const DEFAULT_STATUS: Record<OAuthErrorCode, number> = {
  invalid_request: 400,
  invalid_client: 401,
  unsupported_grant_type: 400,
  invalid_scope: 400,
  slow_down: 429,
  server_error: 500,
};

/** A token endpoint failure: becomes `{ error, error_description }` JSON with its status (never an OperationOutcome). */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;
  readonly headers: Record<string, string>;

  constructor(error: OAuthErrorCode, description: string, options: { status?: number; headers?: Record<string, string> } = {}) {
    super(description);
    this.name = 'OAuthError';
    this.error = error;
    this.status = options.status ?? DEFAULT_STATUS[error];
    this.headers = options.headers ?? {};
  }

  toJSON(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.message };
  }
}

export const invalidRequest = (msg: string): OAuthError => new OAuthError('invalid_request', msg);
export const invalidClient = (msg: string): OAuthError => new OAuthError('invalid_client', msg);
export const invalidScope = (msg: string): OAuthError => new OAuthError('invalid_scope', msg);
