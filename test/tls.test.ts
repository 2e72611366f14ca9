/**
 * flatfhir terminating TLS itself: a real `flatfhir serve --tls-cert --tls-key` process with certificates made for
 * the test, real TLS connections, TLS 1.1 refused (by the server: the same client reaches a TLS 1.1 server), and a
 * new certificate picked up on SIGHUP (a broken one is not).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server as TlsServer } from 'node:tls';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let child: ChildProcess | undefined;
let port = 0;
let logs = '';

const makeCert = async (cn: string): Promise<{ cert: string; key: string }> => {
  const pems = await generate([{ name: 'commonName', value: cn }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  return { cert: pems.cert, key: pems.private };
};

/** A TLS client that would speak TLS 1.0–1.1 (OpenSSL's security level lowered so that it may). */
const OLD_CLIENT = { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0', rejectUnauthorized: false } as const;

/** Connects and resolves with the negotiated protocol and the server certificate's CN, or rejects. */
function handshake(p: number, options: Record<string, unknown> = {}): Promise<{ protocol: string | null; cn: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: p, rejectUnauthorized: false, ...options }, () => {
      const raw = socket.getPeerX509Certificate() as X509Certificate;
      const cn = /CN=([^\n,]+)/.exec(raw.subject)?.[1] ?? '';
      resolve({ protocol: socket.getProtocol(), cn });
      socket.end();
    });
    socket.on('error', reject);
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-tls-'));
  const first = await makeCert('first.flatfhir.test');
  await writeFile(join(dir, 'cert.pem'), first.cert);
  await writeFile(join(dir, 'key.pem'), first.key, { mode: 0o600 });
  child = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--data', join(dir, 'data'), '--port', '0', '--no-seed', '--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')],
    { cwd: join(import.meta.dirname, '..'), env: { ...process.env, LOG_LEVEL: 'info', FLATFHIR_EXPORT_THREADS: '0' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child?.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      logs += d.toString();
      const m = /listening on https:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child?.stderr?.on('data', (d: Buffer) => process.stderr.write(d));
    child?.on('exit', (code) => reject(new Error(`server exited early with ${code}: ${out}`)));
  });
});

afterAll(async () => {
  child?.kill('SIGTERM');
  await new Promise((r) => child?.once('exit', r));
  await rm(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('serves HTTPS with the configured certificate, TLS 1.2 or newer', async () => {
    const modern = await handshake(port);
    expect(modern.cn).toBe('first.flatfhir.test');
    expect(['TLSv1.2', 'TLSv1.3']).toContain(modern.protocol);
    expect((await handshake(port, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    // Real HTTPS requests: the FHIR endpoints answer as over HTTP.
    const res = await new Promise<number>((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
        socket.write('GET /r4/none/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
      });
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString()));
      socket.on('end', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1])));
      socket.on('error', reject);
    });
    expect(res).toBeGreaterThanOrEqual(200);
    expect(res).toBeLessThan(500);
  });

  it('refuses TLS 1.1, which the same client negotiates with a server that allows it', async () => {
    const legacy = await makeCert('legacy.test');
    const server: TlsServer = createServer({ cert: legacy.cert, key: legacy.key, minVersion: 'TLSv1', ciphers: 'DEFAULT@SECLEVEL=0' }, (s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const legacyPort = (server.address() as { port: number }).port;
    try {
      expect((await handshake(legacyPort, OLD_CLIENT)).protocol).toBe('TLSv1.1');
    } finally {
      server.close();
    }
    await expect(handshake(port, OLD_CLIENT)).rejects.toThrow(/protocol|version|alert/i);
  });

  it('picks up a new certificate on SIGHUP, keeps the current one when the new files do not load', async () => {
    const second = await makeCert('second.flatfhir.test');
    await writeFile(join(dir, 'cert.pem'), second.cert);
    await writeFile(join(dir, 'key.pem'), second.key, { mode: 0o600 });
    child?.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    let cn = '';
    while (Date.now() < deadline) {
      cn = (await handshake(port)).cn;
      if (cn === 'second.flatfhir.test') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(cn).toBe('second.flatfhir.test');
    // The reloaded context still refuses TLS 1.1.
    await expect(handshake(port, OLD_CLIENT)).rejects.toThrow(/protocol|version|alert/i);

    // A key that does not match the certificate: the reload fails, the server keeps serving the second one.
    const third = await makeCert('third.flatfhir.test');
    await writeFile(join(dir, 'cert.pem'), third.cert);
    child?.kill('SIGHUP');
    const waitFor = Date.now() + 10_000;
    while (!logs.includes('TLS certificate reload failed') && Date.now() < waitFor) await new Promise((r) => setTimeout(r, 50));
    expect(logs).toContain('TLS certificate reload failed');
    expect((await handshake(port)).cn).toBe('second.flatfhir.test');
    expect(child?.exitCode).toBeNull();
  });
});
