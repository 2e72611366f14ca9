/**
 * Starts a real flatfhir runtime (SQLite store, local file storage, auth, export worker) on an ephemeral port,
 * with a temporary data directory, and gives tests a client with a token.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { type ConfigInput, loadConfig } from '../../src/config/index.js';
import { createLogger, createRuntime, type Runtime } from '../../src/main.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { createTestClient, getAccessToken, type TestClient } from './auth.js';

export interface TestServer {
  runtime: Runtime;
  origin: string;
  dataDir: string;
  base(tenant: string): string;
  tokenUrl(tenant: string): string;
  /** Registers a client for a tenant and returns it with a fresh token. */
  client(tenant: string, scope?: string): Promise<TestClient & { token: string }>;
  close(): Promise<void>;
}

export async function startServer(overrides: ConfigInput = {}, options: { worker?: boolean; plugins?: FastifyPluginAsync[]; storeNow?: () => number } = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-test-'));
  const config = loadConfig(
    { dataDir, port: 0, logLevel: 'silent', seedSandbox: false, ...overrides, export: { retryAfterSeconds: 1, threads: 0, ...(overrides.export ?? {}) } },
    {},
  );
  const runtime = await createRuntime(config, { log: createLogger(config), ...(options.plugins ? { plugins: options.plugins } : {}),
    // The store's clock: write times and the tenant clock, hence each job's transaction time (kick-off instant).
    ...(options.storeNow ? { store: openSqliteStore(join(dataDir, 'flatfhir.sqlite'), { now: options.storeNow, keysDir: join(dataDir, 'keys') }) } : {}),
  });
  await runtime.app.listen({ port: 0, host: '127.0.0.1' });
  const address = runtime.app.server.address();
  const origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  if (options.worker !== false) await runtime.worker.start();
  return {
    runtime,
    origin,
    dataDir,
    base: (tenant) => `${origin}/r4/${tenant}`,
    tokenUrl: (tenant) => runtime.auth.tokenUrl(origin, tenant),
    async client(tenant, scope = 'system/*.rs') {
      const c = await createTestClient(runtime.store.clients, tenant, scope);
      const token = await getAccessToken(runtime.auth.tokenUrl(origin, tenant), c, scope, runtime.auth.tokenUrl(runtime.origin(), tenant));
      return { ...c, token };
    },
    async close() {
      await runtime.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const KICKOFF_HEADERS = { accept: 'application/fhir+json', prefer: 'respond-async' };

export function auth(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, ...extra };
}

/** Polls a status URL until it is no longer 202; returns the final response and how many polls it took. */
export async function waitForJob(statusUrl: string, token: string, timeoutMs = 60_000): Promise<{ response: Response; polls: number; first: Response }> {
  const deadline = Date.now() + timeoutMs;
  let polls = 0;
  let first: Response | undefined;
  for (;;) {
    const response = await fetch(statusUrl, { headers: auth(token, { accept: 'application/json' }) });
    polls++;
    first ??= response;
    if (response.status !== 202) return { response, polls, first };
    await response.arrayBuffer();
    if (Date.now() > deadline) throw new Error(`export did not finish within ${timeoutMs} ms (X-Progress: ${response.headers.get('x-progress') ?? 'none'})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface ManifestJson {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: { type: string; url: string; count?: number }[];
  error: { type: string; url: string }[];
  deleted?: { type: string; url: string }[];
}

/** Downloads one manifest file: the token-protected URL, then its 307 target without Authorization. */
export async function download(url: string, token: string): Promise<{ text: string; redirect: Response; file: Response }> {
  const redirect = await fetch(url, { headers: auth(token), redirect: 'manual' });
  if (redirect.status !== 307) throw new Error(`expected 307 for ${url}, got ${redirect.status}: ${await redirect.text()}`);
  const location = redirect.headers.get('location') as string;
  const file = await fetch(location, { redirect: 'manual' });
  const text = await file.text();
  return { text, redirect, file };
}

export const parseNdjson = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

/** Runs an export to completion and downloads every output file, grouped by type. */
export async function runExport(
  server: TestServer,
  token: string,
  url: string,
  init: RequestInit = {},
): Promise<{ manifest: ManifestJson; byType: Map<string, Record<string, unknown>[]>; statusUrl: string; errors: Record<string, unknown>[]; deleted: Record<string, unknown>[] }> {
  const kick = await fetch(url, { ...init, headers: { ...KICKOFF_HEADERS, ...auth(token), ...(init.headers as Record<string, string> | undefined) } });
  if (kick.status !== 202) throw new Error(`kick-off ${url} answered ${kick.status}: ${await kick.text()}`);
  const statusUrl = kick.headers.get('content-location') as string;
  const { response } = await waitForJob(statusUrl, token);
  if (response.status !== 200) throw new Error(`status answered ${response.status}: ${await response.text()}`);
  const manifest = (await response.json()) as ManifestJson;
  const byType = new Map<string, Record<string, unknown>[]>();
  for (const o of manifest.output) {
    const { text } = await download(o.url, token);
    const list = byType.get(o.type) ?? [];
    list.push(...parseNdjson(text));
    byType.set(o.type, list);
  }
  const errors: Record<string, unknown>[] = [];
  for (const e of manifest.error) errors.push(...parseNdjson((await download(e.url, token)).text));
  const deleted: Record<string, unknown>[] = [];
  for (const d of manifest.deleted ?? []) deleted.push(...parseNdjson((await download(d.url, token)).text));
  void server;
  return { manifest, byType, statusUrl, errors, deleted };
}
