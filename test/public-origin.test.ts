/**
 * The public origin comes from configuration (the listening address, or --public-url), never from a request's
 * Host or X-Forwarded-* headers; X-Forwarded-For/-Proto count only from configured proxies.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { createTestClient, signAssertion, tokenForm } from './helpers/auth.js';
import { request } from './helpers/http.js';
import { auth, KICKOFF_HEADERS, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-a';
const EVIL = { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https', forwarded: 'host=evil.example;proto=https' };

/** A route that shows what Fastify made of the peer address and scheme. */
const peerRoute: FastifyPluginAsync = async (app) => {
  app.get('/test/peer', async (req) => ({ ip: req.ip, protocol: req.protocol }));
};

async function seeded(overrides: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const server = await startServer(overrides, { plugins: [peerRoute] });
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
  return server;
}

/** Kicks off, polls to completion and fetches one file URL, every request sent with the hostile headers. */
async function exportWithHostileHeaders(server: TestServer, token: string): Promise<{ contentLocation: string; manifest: { request: string; output: { url: string }[] }; location: string }> {
  const kick = await request(`${server.base(TENANT)}/Group/grp-main/$export?_type=Patient`, { headers: { ...KICKOFF_HEADERS, ...auth(token), ...EVIL } });
  expect(kick.status).toBe(202);
  const contentLocation = String(kick.headers['content-location']);
  // Poll the real status URL (whatever it says) with the hostile headers.
  const statusPath = new URL(contentLocation).pathname;
  let status = await request(`${server.origin}${statusPath}`, { headers: { ...auth(token), ...EVIL } });
  for (let i = 0; status.status === 202 && i < 300; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = await request(`${server.origin}${statusPath}`, { headers: { ...auth(token), ...EVIL } });
  }
  expect(status.status).toBe(200);
  const manifest = JSON.parse(status.body) as { request: string; output: { url: string }[] };
  const filePath = new URL(manifest.output[0]?.url as string).pathname;
  const file = await request(`${server.origin}${filePath}`, { headers: { ...auth(token), ...EVIL } });
  expect(file.status).toBe(307);
  await request(`${server.origin}${statusPath}`, { method: 'DELETE', headers: auth(token) });
  return { contentLocation, manifest, location: String(file.headers.location) };
}

describe('the public origin is the listening address by default', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await seeded();
    token = (await server.client(TENANT)).token;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers manifests, status and file redirects with the listening origin whatever Host and X-Forwarded-* say', async () => {
    const { contentLocation, manifest, location } = await exportWithHostileHeaders(server, token);
    expect(contentLocation.startsWith(`${server.base(TENANT)}/bulk-export/jobs/`)).toBe(true);
    expect(manifest.request).toBe(`${server.base(TENANT)}/Group/grp-main/$export?_type=Patient`);
    for (const o of manifest.output) expect(o.url.startsWith(`${server.base(TENANT)}/bulk-export/files/`)).toBe(true);
    expect(location.startsWith(`${server.origin}/bulk-files/`)).toBe(true);
    expect(JSON.stringify({ contentLocation, manifest, location })).not.toMatch(/evil/);
  });

  it('advertises the listening origin in smart-configuration and the CapabilityStatement', async () => {
    const smart = await request(`${server.base(TENANT)}/.well-known/smart-configuration`, { headers: EVIL });
    expect(JSON.parse(smart.body)).toMatchObject({ issuer: server.origin, token_endpoint: server.tokenUrl(TENANT) });
    const metadata = await request(`${server.base(TENANT)}/metadata`, { headers: EVIL });
    expect(metadata.status).toBe(200);
    expect(metadata.body).toContain(server.tokenUrl(TENANT));
    expect(metadata.body).not.toMatch(/evil/);
  });

  it('refuses an assertion whose aud names the Host header, and checks aud against the configured token URL', async () => {
    const client = await createTestClient(server.runtime.store.clients, TENANT);
    const evilAud = `http://evil.example/tenants/${TENANT}/protocols/oauth2/profiles/smart-v1/token`;
    const form = (assertion: string) => new URLSearchParams(tokenForm(assertion)).toString();
    const headers = { ...EVIL, 'content-type': 'application/x-www-form-urlencoded' };
    const refused = await request(server.tokenUrl(TENANT), { method: 'POST', headers, body: form(await signAssertion(client, evilAud)) });
    expect(refused.status).toBe(401);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'invalid_client' });
    const ok = await request(server.tokenUrl(TENANT), { method: 'POST', headers, body: form(await signAssertion(client, server.tokenUrl(TENANT))) });
    expect(ok.status).toBe(200);
    expect(decodeJwt((JSON.parse(ok.body) as { access_token: string }).access_token).iss).toBe(server.origin);
  });

  it('ignores X-Forwarded-For and X-Forwarded-Proto from a peer that is not a configured proxy', async () => {
    const r = await request(`${server.origin}/test/peer`, { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } });
    expect(JSON.parse(r.body)).toEqual({ ip: '127.0.0.1', protocol: 'http' });
  });
});

describe('behind a reverse proxy', () => {
  let server: TestServer;
  let token: string;
  const PUBLIC = 'https://fhir.example.org';
  beforeAll(async () => {
    server = await seeded({ publicBaseUrl: `${PUBLIC}/`, trustedProxies: '127.0.0.1' });
    token = (await server.client(TENANT)).token;
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers with the configured public URL, even from a trusted proxy naming another host', async () => {
    const { contentLocation, manifest, location } = await exportWithHostileHeaders(server, token);
    expect(contentLocation.startsWith(`${PUBLIC}/r4/${TENANT}/bulk-export/jobs/`)).toBe(true);
    expect(manifest.request.startsWith(`${PUBLIC}/r4/${TENANT}/`)).toBe(true);
    for (const o of manifest.output) expect(o.url.startsWith(`${PUBLIC}/r4/${TENANT}/bulk-export/files/`)).toBe(true);
    expect(location.startsWith(`${PUBLIC}/bulk-files/`)).toBe(true);
  });

  it('honours X-Forwarded-For and X-Forwarded-Proto from a configured proxy', async () => {
    const r = await request(`${server.origin}/test/peer`, { headers: { 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https' } });
    expect(JSON.parse(r.body)).toEqual({ ip: '203.0.113.9', protocol: 'https' });
  });
});

describe('trustedProxies configuration', () => {
  it('reads a comma-separated list of addresses and ranges, and refuses anything else', () => {
    expect(loadConfig({}, { FLATFHIR_TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1,::1,loopback' }).trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1', '::1', 'loopback']);
    expect(loadConfig({}, {}).trustedProxies).toEqual([]);
    expect(() => loadConfig({}, { FLATFHIR_TRUSTED_PROXIES: 'proxy.example' })).toThrow(/trustedProxies/);
    expect(() => loadConfig({}, { FLATFHIR_TRUSTED_PROXIES: '10.0.0.0/33' })).toThrow(/trustedProxies/);
    expect(() => loadConfig({ publicBaseUrl: 'ftp://x.example' }, {})).toThrow(/publicBaseUrl/);
  });
});
