import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { ClientStore } from '../store/ports.js';
import { buildClient } from './client-registry.js';
import { publicJwkOf } from './jwks.js';

export interface SandboxClientOptions {
  clients: ClientStore;
  /** The data directory; the client file is written to `<dataDir>/sandbox-client.json`. */
  dataDir: string;
  tenant: string;
  /** The tenant's FHIR base URL and token URL as clients will use them. */
  fhirBaseUrl: string;
  tokenUrl: string;
}

export const SANDBOX_SCOPE = 'system/*.rs';
const SANDBOX_ALG = 'ES384';
const SANDBOX_NAME = 'flatfhir sandbox client';

/** What `sandbox-client.json` holds: everything a bulk-data client needs to get a token. */
export interface SandboxClientFile {
  tenant: string;
  fhirBaseUrl: string;
  tokenUrl: string;
  clientId: string;
  scope: string;
  /** The private key (with `kid` and `alg`) to sign client assertions with. Keep this file secret. */
  privateJwk: JWK;
}

export const sandboxClientFile = (dataDir: string): string => join(dataDir, 'sandbox-client.json');

async function readClientFile(file: string): Promise<SandboxClientFile | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const f = JSON.parse(text) as Partial<SandboxClientFile>;
    const jwk = f.privateJwk;
    if (typeof f.clientId !== 'string' || typeof f.tenant !== 'string' || !jwk || typeof jwk.kid !== 'string' || typeof jwk.d !== 'string') {
      return undefined;
    }
    return f as SandboxClientFile;
  } catch {
    return undefined; // unreadable: replaced by a new client
  }
}

async function writeClientFile(file: string, content: SandboxClientFile): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/**
 * Makes sure the sandbox tenant has a registered sandbox client: on first call generates a key pair, registers the
 * public JWKS with `system/*.rs` and writes `sandbox-client.json` (tenant, fhirBaseUrl, tokenUrl, clientId, scope,
 * privateJwk). Later calls keep the client and refresh the URLs in the file. Returns the client id.
 * When the file exists but its client is gone from the store (a new database), the same key is registered again
 * under the same client id. A client an administrator disabled stays disabled.
 */
export async function ensureSandboxClient(options: SandboxClientOptions): Promise<string> {
  const { clients, dataDir, tenant, fhirBaseUrl, tokenUrl } = options;
  await mkdir(dataDir, { recursive: true });
  const file = sandboxClientFile(dataDir);
  const existing = await readClientFile(file);

  if (existing && existing.tenant === tenant) {
    const registered = await clients.getClient(existing.clientId);
    const publicJwk = publicJwkOf(existing.privateJwk);
    const sameKey =
      registered?.tenant === tenant && registered.jwks?.keys.some((k) => k['kid'] === publicJwk.kid && k['x'] === publicJwk.x && k['n'] === publicJwk.n);
    if (registered && !sameKey) {
      // The id now belongs to something else: start over with a new client below.
    } else {
      if (!registered) {
        const client = await buildClient(
          { tenant, scope: existing.scope || SANDBOX_SCOPE, name: SANDBOX_NAME, jwks: { keys: [publicJwk] } },
          Date.now(),
          existing.clientId,
        );
        await clients.registerClient(client);
      }
      const scope = registered?.scope ?? (existing.scope || SANDBOX_SCOPE);
      if (existing.fhirBaseUrl !== fhirBaseUrl || existing.tokenUrl !== tokenUrl || existing.scope !== scope || !registered) {
        await writeClientFile(file, { ...existing, fhirBaseUrl, tokenUrl, scope });
      } else {
        await chmod(file, 0o600);
      }
      return existing.clientId;
    }
  }

  const { privateKey } = await generateKeyPair(SANDBOX_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  const privateJwk: JWK = { ...jwk, kid, alg: SANDBOX_ALG, use: 'sig' };
  const client = await buildClient({ tenant, scope: SANDBOX_SCOPE, name: SANDBOX_NAME, jwks: { keys: [publicJwkOf(privateJwk)] } }, Date.now());
  await clients.registerClient(client);
  await writeClientFile(file, { tenant, fhirBaseUrl, tokenUrl, clientId: client.clientId, scope: client.scope, privateJwk });
  return client.clientId;
}
