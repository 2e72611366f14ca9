import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ensureSandboxClient } from '../src/auth/sandbox-client.js';
import { tokenCommand } from '../src/cli/token-command.js';
import { auth, startServer, type TestServer } from './helpers/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
  await server.runtime.store.resources.ensureTenant('t');
});

afterAll(async () => {
  await server?.close();
});

describe('flatfhir token', () => {
  it('prints an access token for a client file that the server accepts', async () => {
    await ensureSandboxClient({
      clients: server.runtime.store.clients,
      dataDir: server.dataDir,
      tenant: 't',
      fhirBaseUrl: server.base('t'),
      tokenUrl: server.tokenUrl('t'),
    });
    const written: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      await tokenCommand().parseAsync(['--client-file', join(server.dataDir, 'sandbox-client.json')], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    const token = written.join('').trim();
    expect(token.split('.')).toHaveLength(3);
    const r = await fetch(`${server.base('t')}/Group/none`, { headers: auth(token) });
    // authenticated: the group is simply not there
    expect(r.status).toBe(404);
  });
});

describe('flatfhir keys rotate', () => {
  it('adds a new signing key each time and keeps the old ones', async () => {
    const { keysCommand } = await import('../src/cli/keys-command.js');
    const { mkdtemp, readFile, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const dir = await mkdtemp(join(tmpdir(), 'flatfhir-keys-'));
    const kids: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      kids.push((JSON.parse(String(chunk)) as { kid: string }).kid);
      return true;
    });
    try {
      await keysCommand().parseAsync(['rotate', '--data', dir], { from: 'user' });
      await keysCommand().parseAsync(['rotate', '--data', dir], { from: 'user' });
    } finally {
      spy.mockRestore();
    }
    expect(new Set(kids).size).toBe(2);
    const stored = await readFile(join(dir, 'keys', 'signing-keys.json'), 'utf8');
    for (const kid of kids) expect(stored).toContain(kid);
    await rm(dir, { recursive: true, force: true });
  });
});
