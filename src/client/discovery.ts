/**
 * Finding the token endpoint of a FHIR server: `.well-known/smart-configuration` first, then the
 * CapabilityStatement's `oauth-uris` security extension.
 */
import type { ClientContext } from './context.js';
import { discard, errorMessage, isAbort, isNetworkError } from './http.js';

const OAUTH_URIS = 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris';

export const withoutTrailingSlash = (url: string): string => url.replace(/\/+$/, '');

async function getJson(ctx: ClientContext, url: string, accept: string): Promise<unknown> {
  const response = await ctx.fetch(url, {
    headers: { accept, 'user-agent': ctx.userAgent },
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  if (!response.ok) {
    await discard(response);
    throw new Error(`${url} answered HTTP ${response.status}`);
  }
  return response.json();
}

/** The token endpoint advertised in a CapabilityStatement (`rest[].security.extension[oauth-uris].extension[token]`). */
export function tokenUrlFromCapabilityStatement(cs: unknown): string | undefined {
  const rest = (cs as { rest?: unknown } | null)?.rest;
  if (!Array.isArray(rest)) return undefined;
  for (const r of rest as { security?: { extension?: unknown } }[]) {
    const extensions = r.security?.extension;
    if (!Array.isArray(extensions)) continue;
    for (const ext of extensions as { url?: unknown; extension?: unknown }[]) {
      if (ext.url !== OAUTH_URIS || !Array.isArray(ext.extension)) continue;
      for (const inner of ext.extension as { url?: unknown; valueUri?: unknown; valueUrl?: unknown }[]) {
        const value = inner.valueUri ?? inner.valueUrl;
        if (inner.url === 'token' && typeof value === 'string' && value !== '') return value;
      }
    }
  }
  return undefined;
}

/** Discovers the token endpoint of `fhirBaseUrl`; throws when neither source names one. */
export async function discoverTokenUrl(
  ctx: ClientContext,
  fhirBaseUrl: string,
): Promise<{ tokenUrl: string; source: 'smart-configuration' | 'capability-statement' }> {
  const base = withoutTrailingSlash(fhirBaseUrl);
  const problems: string[] = [];
  try {
    const config = (await getJson(ctx, `${base}/.well-known/smart-configuration`, 'application/json')) as { token_endpoint?: unknown } | null;
    const endpoint = config?.token_endpoint;
    if (typeof endpoint === 'string' && endpoint !== '') {
      return { tokenUrl: new URL(endpoint, `${base}/`).href, source: 'smart-configuration' };
    }
    problems.push('smart-configuration has no token_endpoint');
  } catch (e) {
    if (isAbort(e, ctx.signal)) throw e;
    // Nothing answers there: asking the same server for its CapabilityStatement would fail the same way.
    if (isNetworkError(e)) throw new Error(`Cannot reach ${base}: ${errorMessage(e)}. Is the server running, and is the URL right?`);
    problems.push(errorMessage(e));
  }
  try {
    const endpoint = tokenUrlFromCapabilityStatement(await getJson(ctx, `${base}/metadata`, 'application/fhir+json'));
    if (endpoint) return { tokenUrl: new URL(endpoint, `${base}/`).href, source: 'capability-statement' };
    problems.push('the CapabilityStatement names no token endpoint (oauth-uris extension)');
  } catch (e) {
    if (isAbort(e, ctx.signal)) throw e;
    problems.push(errorMessage(e));
  }
  throw new Error(`Cannot discover the token endpoint of ${base}: ${problems.join('; ')}. Give it with --token-url.`);
}
