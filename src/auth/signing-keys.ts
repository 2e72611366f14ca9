import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { publicJwkOf } from './jwks.js';

/**
 * The server's access-token signing keys: a key set file `<dataDir>/keys/signing-keys.json` (mode 0600) holding
 * every key still in use. The newest signs; any of them verifies, so a rotation never invalidates tokens already
 * issued. A key replaced more than `RETIRE_AFTER_MS` ago (far beyond any token lifetime) is dropped at the next
 * rotation. Several processes sharing a data directory share the file; a server notices a rotation by the file's
 * change (checked before signing and when a token names an unknown kid).
 */

export const SIGNING_ALG = 'ES384';
const RETIRE_AFTER_MS = 24 * 3600 * 1000;

export interface StoredSigningKey {
  kid: string;
  alg: typeof SIGNING_ALG | 'ES256';
  createdAt: number;
  privateJwk: JWK;
}

interface KeySetFile {
  keys: StoredSigningKey[];
}

export const signingKeyDir = (dataDir: string): string => join(dataDir, 'keys');
export const signingKeyFile = (dataDir: string): string => join(signingKeyDir(dataDir), 'signing-keys.json');

async function newKey(now: number): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, alg: SIGNING_ALG, createdAt: now, privateJwk: { ...jwk, kid, alg: SIGNING_ALG, use: 'sig' } };
}

function parseKeySet(text: string, file: string): KeySetFile {
  const parsed = JSON.parse(text) as Partial<KeySetFile>;
  if (!parsed || !Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error(`${file} holds no signing keys`);
  for (const k of parsed.keys) {
    if (typeof k?.kid !== 'string' || typeof k.privateJwk !== 'object' || typeof k.createdAt !== 'number') {
      throw new Error(`${file} holds a malformed signing key`);
    }
  }
  return { keys: parsed.keys };
}

const tmpName = (file: string): string => `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;

async function writeTmp(file: string, set: KeySetFile): Promise<string> {
  await mkdir(join(file, '..'), { recursive: true, mode: 0o700 });
  const tmp = tmpName(file);
  await writeFile(tmp, `${JSON.stringify(set, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return tmp;
}

/** Reads the key set, creating it with a first key when absent (atomically: concurrent starters agree on one). */
export async function loadOrCreateSigningKeys(dataDir: string, now: () => number = Date.now): Promise<StoredSigningKey[]> {
  const file = signingKeyFile(dataDir);
  try {
    return parseKeySet(await readFile(file, 'utf8'), file).keys;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const tmp = await writeTmp(file, { keys: [await newKey(now())] });
  try {
    await link(tmp, file); // fails with EEXIST when another process won the race; then theirs is used
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  return parseKeySet(await readFile(file, 'utf8'), file).keys;
}

/**
 * Adds a new signing key (the newest signs from now on); keeps the older ones for verification, dropping those
 * replaced long ago. Returns the new key id. Running servers pick the new key up without a restart.
 */
export async function rotateSigningKey(dataDir: string, options: { now?: () => number } = {}): Promise<{ kid: string; retired: string[] }> {
  const now = options.now ?? Date.now;
  const file = signingKeyFile(dataDir);
  const keys = [...(await loadOrCreateSigningKeys(dataDir, now))].sort((a, b) => a.createdAt - b.createdAt);
  const t = now();
  const key = await newKey(Math.max(t, (keys.at(-1)?.createdAt ?? 0) + 1));
  // A key is still needed while tokens it signed may be unexpired: until its successor is RETIRE_AFTER_MS old.
  const kept = keys.filter((k, i) => {
    const successor = keys[i + 1];
    return successor === undefined || t - successor.createdAt < RETIRE_AFTER_MS;
  });
  const retired = keys.filter((k) => !kept.includes(k)).map((k) => k.kid);
  const tmp = await writeTmp(file, { keys: [...kept, key] });
  await rename(tmp, file);
  return { kid: key.kid, retired };
}

export interface SigningKey {
  kid: string;
  alg: string;
  key: CryptoKey;
}

/** The loaded key set of one process: signs with the newest key, verifies with any; reloads when the file changes. */
export class SigningKeyRing {
  private signing: SigningKey | undefined;
  private verifying = new Map<string, SigningKey>();
  private version = '';
  private lastCheck = 0;

  private constructor(
    private readonly dataDir: string,
    private readonly now: () => number,
  ) {}

  static async open(dataDir: string, now: () => number = Date.now): Promise<SigningKeyRing> {
    const ring = new SigningKeyRing(dataDir, now);
    await loadOrCreateSigningKeys(dataDir, now);
    await ring.reload();
    return ring;
  }

  private async fileVersion(): Promise<string> {
    const s = await stat(signingKeyFile(this.dataDir));
    return `${s.mtimeMs}:${s.size}:${s.ino}`;
  }

  private async reload(): Promise<void> {
    const file = signingKeyFile(this.dataDir);
    const version = await this.fileVersion();
    const keys = parseKeySet(await readFile(file, 'utf8'), file).keys;
    const verifying = new Map<string, SigningKey>();
    let newest: StoredSigningKey | undefined;
    for (const k of keys) {
      verifying.set(k.kid, { kid: k.kid, alg: k.alg, key: (await importJWK(publicJwkOf(k.privateJwk), k.alg)) as CryptoKey });
      if (!newest || k.createdAt >= newest.createdAt) newest = k;
    }
    if (!newest) throw new Error(`${file} holds no signing keys`);
    this.signing = { kid: newest.kid, alg: newest.alg, key: (await importJWK(newest.privateJwk, newest.alg)) as CryptoKey };
    this.verifying = verifying;
    this.version = version;
  }

  /** Reloads when the key file changed, at most once per `minIntervalMs`. */
  async refresh(minIntervalMs = 0): Promise<void> {
    const t = this.now();
    if (minIntervalMs > 0 && t - this.lastCheck < minIntervalMs) return;
    this.lastCheck = t;
    if ((await this.fileVersion()) !== this.version) await this.reload();
  }

  /** The key to sign new tokens with (the newest). */
  async current(): Promise<SigningKey> {
    await this.refresh();
    if (!this.signing) throw new Error('no signing key loaded');
    return this.signing;
  }

  /** The public key with this kid, reloading the key set (rate-limited) when it is not known yet. */
  async verificationKey(kid: string | undefined): Promise<SigningKey | undefined> {
    if (kid === undefined) return undefined;
    const known = this.verifying.get(kid);
    if (known) return known;
    await this.refresh(1000);
    return this.verifying.get(kid);
  }
}
