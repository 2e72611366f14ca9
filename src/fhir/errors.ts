/** The one error type of the FHIR edge: an HTTP status plus the OperationOutcome it becomes. */
export type IssueSeverity = 'fatal' | 'error' | 'warning' | 'information';

export interface OperationOutcomeIssue {
  severity: IssueSeverity;
  code: string;
  diagnostics?: string;
  expression?: string[];
}

export interface OperationOutcome {
  resourceType: 'OperationOutcome';
  id?: string;
  issue: OperationOutcomeIssue[];
}

export class FhirError extends Error {
  readonly status: number;
  readonly code: string;
  readonly severity: IssueSeverity;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    code: string,
    diagnostics: string,
    options: { severity?: IssueSeverity; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(diagnostics, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'FhirError';
    this.status = status;
    this.code = code;
    this.severity = options.severity ?? 'error';
    this.headers = options.headers ?? {};
  }

  toOperationOutcome(): OperationOutcome {
    return outcome(this.severity, this.code, this.message);
  }
}

export function outcome(severity: IssueSeverity, code: string, diagnostics: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics }] };
}

export const invalid = (msg: string): FhirError => new FhirError(400, 'invalid', msg);
export const notFound = (msg: string): FhirError => new FhirError(404, 'not-found', msg);
export const forbidden = (msg: string): FhirError => new FhirError(403, 'forbidden', msg);
export const unauthorized = (msg: string, code: 'login' | 'expired' = 'login'): FhirError =>
  new FhirError(401, code, msg, { headers: { 'www-authenticate': 'Bearer' } });
export const methodNotAllowed = (msg: string, allow: string[]): FhirError =>
  new FhirError(405, 'not-supported', msg, { headers: { allow: allow.join(', ') } });
export const headTooLarge = (msg: string): FhirError => new FhirError(431, 'too-long', msg);
/** A well-formed request the server will not carry out: a profile or business rule broken, something not supported. */
export const unprocessable = (msg: string, code = 'processing'): FhirError => new FhirError(422, code, msg);
export const notAcceptable = (msg: string): FhirError => new FhirError(406, 'invalid', msg);
export const unsupportedMediaType = (msg: string): FhirError => new FhirError(415, 'invalid', msg);
export const throttled = (msg: string, retryAfterSeconds: number): FhirError =>
  new FhirError(429, 'throttled', msg, { headers: { 'retry-after': String(Math.max(1, Math.ceil(retryAfterSeconds))) } });
export const transient = (msg: string, cause?: unknown): FhirError =>
  new FhirError(503, 'transient', msg, { headers: { 'retry-after': '5' }, cause });
export const internal = (msg: string, cause?: unknown): FhirError =>
  new FhirError(500, 'exception', msg, { severity: 'fatal', cause });
