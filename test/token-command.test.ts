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
