/**
 * Registers a benchmark client (ES384 key) in a store and writes its client file. Prints {} when done. The store:
 * a SQLite file, or a PostgreSQL URL (`?schema=` as the server takes it).
 */
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import { openStore } from '../src/store/open.js';

const [file, tenant, clientFile] = process.argv.slice(2) as [string, string, string];
const store = await openStore(file.startsWith('postgres') ? { databaseUrl: file, dataDir: dirname(clientFile) } : { dataDir: dirname(file) });
const { privateKey, publicKey } = await generateKeyPair('ES384', { extractable: true });
const pub = await exportJWK(publicKey);
const kid = await calculateJwkThumbprint(pub);
const clientId = randomUUID();
await store.clients.registerClient({
  clientId,
  tenant,
  name: 'benchmark',
  jwks: { keys: [{ ...pub, kid, alg: 'ES384', use: 'sig' }] },
  jwksUrl: null,
  scope: 'system/*.rs',
  disabled: false,
  createdAt: Date.now(),
});
await writeFile(clientFile, JSON.stringify({ clientId, privateJwk: { ...(await exportJWK(privateKey)), kid, alg: 'ES384' } }), { mode: 0o600 });
await store.close();
console.log('{}');
