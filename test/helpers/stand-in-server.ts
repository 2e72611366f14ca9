/**
 * Plain node:http servers for the bulk data client tests:
 *
 * - `startProxy(target)`: a recording, fault-injecting proxy in front of a whole server. It keeps the client's
 *   `Host`, so a flatfhir behind it writes the proxy's origin into every URL (status, manifest, pre-signed links,
 *   token endpoint) and sees every request of an export. Hooks answer in its place (429, 5xx), delay, rewrite
 *   request headers or cut a response body after N bytes.
 * - `startStandInServer(options)`: a small bulk data server that behaves like a different vendor: its own token
 *   endpoint (found through smart-configuration, or only through the CapabilityStatement), `Retry-After` as an
 *   HTTP-date, a 429 while polling, a manifest with `requiresAccessToken: false` and direct (200) file URLs.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, request as httpRequest, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { decodeProtectedHeader, importJWK, type JWK, jwtVerify } from 'jose';

export interface RecordedRequest {
  method: string;
  /** Path with query string. */
  url: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The status sent back to the client (set when the response starts). */
  status?: number;
  /** Response headers as sent back. */
  responseHeaders?: IncomingHttpHeaders | OutgoingHttpHeaders;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

const readBody = async (req: IncomingMessage): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const operationOutcome = (code: string, diagnostics: string): string =>
  JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] });

// ---------------------------------------------------------------------------------------------------------------
// Proxy

export interface ProxyRequestAction {
  /** Answer instead of the upstream server. */
  respond?: { status: number; headers?: Record<string, string>; body?: string };
  /** Wait before forwarding. */
  delayMs?: number;
  /** Replace request headers (undefined removes one) before forwarding. */
  headers?: Record<string, string | undefined>;
}

export interface ProxyResponseAction {
  /** Send only the first N body bytes, then close the connection (150 ms later). */
  cutAfterBytes?: number;
  /** Send only the first N body bytes, then nothing more (the connection stays open until the client leaves). */
  stallAfterBytes?: number;
  /** Wait before sending the response. */
  delayMs?: number;
}

export interface ProxyHooks {
  request?(req: RecordedRequest): ProxyRequestAction | undefined;
  response?(req: RecordedRequest, status: number, headers: IncomingHttpHeaders): ProxyResponseAction | undefined;
}

export interface Proxy {
  origin: string;
  /** The origin requests are forwarded to (settable, so a server can be started after its proxy). */
  target: string;
  requests: RecordedRequest[];
  /** Replace to change behaviour between tests. */
  hooks: ProxyHooks;
  close(): Promise<void>;
}

/**
 * A proxy to `target` (an origin) on an ephemeral port of 127.0.0.1. flatfhir writes its configured public origin
 * into the URLs it hands out, so a server behind the proxy is started with `publicBaseUrl: proxy.origin` and
 * named as the proxy's `target` afterwards.
 */
export async function startProxy(target = 'http://127.0.0.1:1'): Promise<Proxy> {
  const proxy: Proxy = { origin: '', target, requests: [], hooks: {}, close: async () => undefined };
  const server = createServer((req, res) => {
    void (async () => {
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        path: (req.url ?? '/').split('?')[0] ?? '/',
        headers: { ...req.headers },
      };
      proxy.requests.push(rec);
      const body = await readBody(req);
      const action = proxy.hooks.request?.(rec);
      if (action?.delayMs) await wait(action.delayMs);
      if (action?.respond) {
        const { status, headers = {}, body = '' } = action.respond;
        rec.status = status;
        rec.responseHeaders = headers;
        res.writeHead(status, headers).end(body);
        return;
      }
      const headers: OutgoingHttpHeaders = { ...req.headers };
      for (const [k, v] of Object.entries(action?.headers ?? {})) {
        if (v === undefined) delete headers[k];
        else headers[k] = v;
      }
      const upstream = new URL(proxy.target);
      const forward = httpRequest(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers },
        (up) => {
          void (async () => {
            const status = up.statusCode ?? 502;
            const after = proxy.hooks.response?.(rec, status, up.headers);
            if (after?.delayMs) await wait(after.delayMs);
            rec.status = status;
            rec.responseHeaders = up.headers;
            res.writeHead(status, up.headers);
            const cut = after?.cutAfterBytes ?? after?.stallAfterBytes;
            const stall = after?.stallAfterBytes !== undefined;
            if (cut === undefined) {
              up.pipe(res);
              return;
            }
            let sent = 0;
            up.on('data', (chunk: Buffer) => {
              if (sent >= cut) return;
              const part = chunk.subarray(0, cut - sent);
              sent += part.length;
              if (sent >= cut) {
                up.destroy();
                // Close a moment later: a fetch body stream that errors drops the chunks its reader has not taken yet.
                res.write(part, () => {
                  if (!stall) setTimeout(() => res.socket?.end(), 150);
                });
              } else {
                res.write(part);
              }
            });
            up.on('end', () => {
              if (sent < cut) res.end();
            });
          })();
        },
      );
      forward.on('error', () => {
        if (!res.headersSent) res.writeHead(502).end();
        else res.destroy();
      });
      forward.end(body);
    })();
  });
  proxy.origin = await listen(server);
  proxy.close = () => close(server);
  return proxy;
}

// ---------------------------------------------------------------------------------------------------------------
// Stand-in vendor server

export interface StandInFile {
  type: string;
  body: string;
  /** The manifest's count (omitted when undefined). */
  count?: number;
}

export interface StandInOptions {
  clientId: string;
  /** The client's public JWK (kid, alg). */
  publicJwk: JWK;
  /** Serve `.well-known/smart-configuration` (default true); else the token endpoint is only in `/metadata`. */
  smartConfiguration?: boolean;
  tokenLifetimeSeconds?: number;
  files: StandInFile[];
  errorFiles?: StandInFile[];
  /** In-progress answers before the manifest (default 2). */
  pollsBeforeComplete?: number;
  /** Poll numbers (1-based) answered with `429` once. */
  throttlePolls?: number[];
  /** Give Retry-After as an HTTP-date (default true), else in seconds. */
  retryAfterDate?: boolean;
  requiresAccessToken?: boolean;
  /** Compress files when the client accepts gzip (default true). */
  gzip?: boolean;
}

export interface StandIn {
  origin: string;
  fhirBase: string;
  tokenUrl: string;
  requests: RecordedRequest[];
  /** Token requests answered with a token. */
  tokensIssued: number;
  /** Kick-off requests with their bodies. */
  kickoffs: { method: string; url: string; headers: IncomingHttpHeaders; body: string }[];
  /** Requests to file URLs that carried Authorization (must stay empty). */
  authorizationOnFiles: number;
  deleted: boolean;
  close(): Promise<void>;
}

/** A different vendor's bulk data server, on an ephemeral port. FHIR base `/fhir`, token `/oauth2/token`. */
export async function startStandInServer(options: StandInOptions): Promise<StandIn> {
  const key = await importJWK(options.publicJwk, options.publicJwk.alg ?? 'ES384');
  const tokens = new Set<string>();
  const jtis = new Set<string>();
  let polls = 0;
  const state: StandIn = {
    origin: '',
    fhirBase: '',
    tokenUrl: '',
    requests: [],
    tokensIssued: 0,
    kickoffs: [],
    authorizationOnFiles: 0,
    deleted: false,
    close: async () => undefined,
  };
  const fhirJson = { 'content-type': 'application/fhir+json' };
  const json = { 'content-type': 'application/json' };
  const retryAfter = (seconds: number): string =>
    options.retryAfterDate === false ? String(seconds) : new Date(Date.now() + seconds * 1000).toUTCString();

  const authorized = (req: IncomingMessage): boolean => {
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    return m !== null && tokens.has(m[1] as string);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, rec: RecordedRequest): Promise<void> => {
    const send = (status: number, headers: Record<string, string>, body: string | Buffer = ''): void => {
      rec.status = status;
      rec.responseHeaders = headers;
      res.writeHead(status, headers).end(body);
    };
    const method = rec.method;
    const path = rec.path;
    const body = (await readBody(req)).toString('utf8');

    if (method === 'GET' && path === '/fhir/.well-known/smart-configuration' && options.smartConfiguration !== false) {
      return send(200, json, JSON.stringify({ token_endpoint: state.tokenUrl, grant_types_supported: ['client_credentials'], token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'] }));
    }
    if (method === 'GET' && path === '/fhir/metadata') {
      return send(
        200,
        fhirJson,
        JSON.stringify({
          resourceType: 'CapabilityStatement',
          status: 'active',
          kind: 'instance',
          fhirVersion: '4.0.1',
          format: ['json'],
          rest: [
            {
              mode: 'server',
              security: {
                extension: [
                  { url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris', extension: [{ url: 'token', valueUri: state.tokenUrl }] },
                ],
              },
            },
          ],
        }),
      );
    }
    if (method === 'POST' && path === '/oauth2/token') {
      const form = new URLSearchParams(body);
      const invalidClient = (why: string): void => send(401, json, JSON.stringify({ error: 'invalid_client', error_description: why }));
      if (form.get('grant_type') !== 'client_credentials') return send(400, json, JSON.stringify({ error: 'unsupported_grant_type' }));
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') return invalidClient('bad client_assertion_type');
      const assertion = form.get('client_assertion') ?? '';
      try {
        const header = decodeProtectedHeader(assertion);
        if (header.kid !== options.publicJwk.kid) return invalidClient('unknown kid');
        const { payload } = await jwtVerify(assertion, key, {
          issuer: options.clientId,
          subject: options.clientId,
          audience: state.tokenUrl,
          algorithms: ['RS384', 'ES384'],
        });
        if (typeof payload.exp !== 'number' || payload.exp > Date.now() / 1000 + 300 + 5) return invalidClient('exp too far ahead');
        if (typeof payload.jti !== 'string' || jtis.has(payload.jti)) return invalidClient('jti missing or reused');
        jtis.add(payload.jti);
      } catch (e) {
        return invalidClient((e as Error).message);
      }
      const token = randomUUID();
      tokens.add(token);
      state.tokensIssued++;
      return send(
        200,
        { ...json, 'cache-control': 'no-store', pragma: 'no-cache' },
        JSON.stringify({ access_token: token, token_type: 'bearer', expires_in: options.tokenLifetimeSeconds ?? 300, scope: form.get('scope') ?? '' }),
      );
    }
    if (path.startsWith('/files/')) {
      if (req.headers.authorization !== undefined) {
        state.authorizationOnFiles++;
        return send(400, fhirJson, operationOutcome('security', 'file URLs must be fetched without Authorization'));
      }
      const [kind, index] = path.slice('/files/'.length).split('/');
      const list = kind === 'error' ? (options.errorFiles ?? []) : options.files;
      const file = list[Number(index)];
      if (!file) return send(404, fhirJson, operationOutcome('not-found', 'no such file'));
      const headers: Record<string, string> = { 'content-type': 'application/fhir+ndjson' };
      if (options.gzip !== false && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && !req.headers.range) {
        return send(200, { ...headers, 'content-encoding': 'gzip' }, gzipSync(file.body));
      }
      return send(200, headers, file.body);
    }

    // Everything below needs a token.
    if (!authorized(req)) return send(401, { ...fhirJson, 'www-authenticate': 'Bearer' }, operationOutcome('login', 'a valid access token is required'));

    if (/^\/fhir\/(Group\/[^/]+\/|Patient\/)?\$export$/.test(path) && (method === 'GET' || method === 'POST')) {
      state.kickoffs.push({ method, url: rec.url, headers: rec.headers, body });
      if (req.headers.accept !== 'application/fhir+json') return send(406, fhirJson, operationOutcome('invalid', 'Accept must be application/fhir+json'));
      if (!/respond-async/.test(String(req.headers.prefer ?? ''))) return send(400, fhirJson, operationOutcome('invalid', 'Prefer: respond-async is required'));
      polls = 0;
      state.deleted = false;
      return send(202, { 'content-location': `${state.origin}/jobs/1` });
    }
    if (path === '/jobs/1' && method === 'DELETE') {
      state.deleted = true;
      return send(202, {});
    }
    if (path === '/jobs/1' && method === 'GET') {
      if (state.deleted) return send(404, fhirJson, operationOutcome('not-found', 'no such job'));
      polls++;
      if ((options.throttlePolls ?? []).includes(polls)) {
        return send(429, { ...fhirJson, 'retry-after': '1' }, operationOutcome('throttled', 'polling too fast'));
      }
      const before = options.pollsBeforeComplete ?? 2;
      if (polls <= before) return send(202, { 'x-progress': `step ${polls} of ${before}`, 'retry-after': retryAfter(1) });
      const entries = (list: StandInFile[], kind: string) =>
        list.map((f, i) => ({ type: f.type, url: `${state.origin}/files/${kind}/${i}`, ...(f.count !== undefined ? { count: f.count } : {}) }));
      return send(
        200,
        json,
        JSON.stringify({
          transactionTime: new Date().toISOString(),
          request: `${state.fhirBase}/Patient/$export`,
          requiresAccessToken: options.requiresAccessToken ?? false,
          output: entries(options.files, 'output'),
          error: entries(options.errorFiles ?? [], 'error'),
        }),
      );
    }
    return send(404, fhirJson, operationOutcome('not-found', `no route ${method} ${path}`));
  };

  const server = createServer((req, res) => {
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      path: (req.url ?? '/').split('?')[0] ?? '/',
      headers: { ...req.headers },
    };
    state.requests.push(rec);
    handle(req, res, rec).catch((e: unknown) => {
      if (!res.headersSent) res.writeHead(500, fhirJson).end(operationOutcome('exception', (e as Error).message));
    });
  });
  state.origin = await listen(server);
  state.fhirBase = `${state.origin}/fhir`;
  state.tokenUrl = `${state.origin}/oauth2/token`;
  state.close = () => close(server);
  return state;
}
