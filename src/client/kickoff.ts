/**
 * The kick-off request: `GET [base]/…/$export?…` with query parameters, or `POST` with a Parameters resource when
 * patients are listed. Answers the status URL from `Content-Location`.
 */
import type { TokenSource } from './auth.js';
import type { ClientContext } from './context.js';
import { discard, HttpError } from './http.js';
import { withoutTrailingSlash } from './discovery.js';
import { send } from './request.js';
import type { ExportRequest } from './types.js';

export interface KickoffRequest {
  method: 'GET' | 'POST';
  url: string;
  headers: Record<string, string>;
  body?: string;
}

const patientReference = (ref: string): string => (ref.includes('/') ? ref : `Patient/${ref}`);

/** The operation URL of an export level, without parameters. */
export function operationUrl(fhirBaseUrl: string, request: ExportRequest): string {
  const base = withoutTrailingSlash(fhirBaseUrl);
  const level = request.level;
  if (level.kind === 'group') return `${base}/Group/${encodeURIComponent(level.groupId)}/$export`;
  if (level.kind === 'patient') return `${base}/Patient/$export`;
  return `${base}/$export`;
}

/** The kick-off parameters as name/value pairs (repeats allowed), in a stable order. */
export function kickoffParameters(request: ExportRequest): [name: string, value: string][] {
  const out: [string, string][] = [];
  const list = (values: string[] | undefined): string[] => (values ?? []).map((v) => v.trim()).filter((v) => v !== '');
  if (request.outputFormat) out.push(['_outputFormat', request.outputFormat]);
  if (list(request.types).length) out.push(['_type', list(request.types).join(',')]);
  if (request.since) out.push(['_since', request.since]);
  if (request.until) out.push(['_until', request.until]);
  for (const q of list(request.typeFilters)) out.push(['_typeFilter', q]);
  if (list(request.elements).length) out.push(['_elements', list(request.elements).join(',')]);
  if (list(request.includeAssociatedData).length) out.push(['includeAssociatedData', list(request.includeAssociatedData).join(',')]);
  return out;
}

const VALUE_TYPE: Record<string, string> = { _since: 'valueInstant', _until: 'valueInstant', includeAssociatedData: 'valueCode' };

/** Builds the kick-off request: a GET with a query string, or a POST Parameters body when patients are given. */
export function buildKickoff(fhirBaseUrl: string, request: ExportRequest): KickoffRequest {
  const url = operationUrl(fhirBaseUrl, request);
  const headers: Record<string, string> = {
    accept: 'application/fhir+json',
    prefer: request.lenient ? 'respond-async, handling=lenient' : 'respond-async',
  };
  const params = kickoffParameters(request);
  const patients = (request.patients ?? []).map((p) => p.trim()).filter((p) => p !== '');
  if (patients.length === 0) {
    const query = new URLSearchParams(params).toString();
    return { method: 'GET', url: query ? `${url}?${query}` : url, headers };
  }
  const parameter: Record<string, unknown>[] = params.map(([name, value]) => ({ name, [VALUE_TYPE[name] ?? 'valueString']: value }));
  for (const p of patients) parameter.push({ name: 'patient', valueReference: { reference: patientReference(p) } });
  return {
    method: 'POST',
    url,
    headers: { ...headers, 'content-type': 'application/fhir+json' },
    body: JSON.stringify({ resourceType: 'Parameters', parameter }),
  };
}

/** Sends the kick-off (waiting out 429 and transient failures) and answers the absolute status URL. */
export async function kickOff(ctx: ClientContext, tokens: TokenSource, kickoff: KickoffRequest): Promise<string> {
  const response = await send(ctx, {
    phase: 'kickoff',
    method: kickoff.method,
    url: kickoff.url,
    headers: kickoff.headers,
    ...(kickoff.body !== undefined ? { body: kickoff.body } : {}),
    tokens,
    accept: (s) => s === 202,
  });
  const location = response.headers.get('content-location');
  await discard(response);
  if (!location) throw new HttpError(`The kick-off ${kickoff.url} answered 202 without a Content-Location.`, 202, kickoff.url);
  const statusUrl = new URL(location, kickoff.url).href;
  ctx.events.emit('kickoff', { requestUrl: kickoff.url, method: kickoff.method, statusUrl });
  return statusUrl;
}
