import { type CryptoKey, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { KeyStore, StoredSigningKey } from '../store/ports.js';
import { publicJwkOf } from './jwks.js';

/**
 * The server's access-token signing keys, held by the store's KeyStore (PostgreSQL: a table every process shares;
 * the embedded store: `<dataDir>/keys/signing-keys.json`, mode 0600). The newest signs; any of them verifies, so a
 * rotation never invalidates tokens already issued. A key replaced more than `RETIRE_AFTER_MS` ago (far beyond any
 * token lifetime) is dropped at the next rotation. A server notices a rotation by the key set's version (checked
 * before signing and when a token names an unknown kid).
 */

export const SIGNING_ALG = 'ES384';
const RETIRE_AFTER_MS = 24 * 3600 * 1000;

export async function newSigningKey(now: number): Promise<StoredSigningKey> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(jwk);
  return { kid, alg: SIGNING_ALG, createdAt: now, privateJwk: { ...jwk, kid, alg: SIGNING_ALG, use: 'sig' } };
}

/** The key set, creating it with a first key when there is none (concurrent starters agree on one). */
export function loadOrCreateSigningKeys(keys: KeyStore, now: () => number = Date.now): Promise<StoredSigningKey[]> {
  return keys.signingKeys(() => newSigningKey(now()));
}

/**
 * Adds a new signing key (the newest signs from now on); keeps the older ones for verification, dropping those
 * replaced long ago. Returns the new key id. Running servers pick the new key up without a restart.
 */
export async function rotateSigningKey(store: KeyStore, options: { now?: () => number } = {}): Promise<{ kid: string; retired: string[] }> {
  const now = options.now ?? Date.now;
  const keys = await loadOrCreateSigningKeys(store, now);
  const t = now();
  const key = await newSigningKey(Math.max(t, (keys.at(-1)?.createdAt ?? 0) + 1));
  // A key is still needed while tokens it signed may be unexpired: until its successor is RETIRE_AFTER_MS old.
  const retired = keys.filter((k, i) => {
    const successor = keys[i + 1];
    return successor !== undefined && t - successor.createdAt >= RETIRE_AFTER_MS;
  });
  await store.replaceSigningKeys(key, retired.map((k) => k.kid));
  return { kid: key.kid, retired: retired.map((k) => k.kid) };
}

export interface SigningKey {
  kid: string;
  alg: string;
  key: CryptoKey;
}

/** The loaded key set of one process: signs with the newest key, verifies with any; reloads when the set changes. */
export class SigningKeyRing {
  private signing: SigningKey | undefined;
  private verifying = new Map<string, SigningKey>();
  private version = '';
  private lastUnknownLookup = 0;

  private constructor(
    private readonly store: KeyStore,
    private readonly now: () => number,
  ) {}

  static async open(store: KeyStore, now: () => number = Date.now): Promise<SigningKeyRing> {
    const ring = new SigningKeyRing(store, now);
    await loadOrCreateSigningKeys(store, now);
    await ring.reload();
    return ring;
  }

  private async reload(): Promise<void> {
    const version = await this.store.signingKeysVersion();
    const keys = await loadOrCreateSigningKeys(this.store, this.now);
    const verifying = new Map<string, SigningKey>();
    let newest: StoredSigningKey | undefined;
    for (const k of keys) {
      verifying.set(k.kid, { kid: k.kid, alg: k.alg, key: (await importJWK(publicJwkOf(k.privateJwk as JWK), k.alg)) as CryptoKey });
      if (!newest || k.createdAt >= newest.createdAt) newest = k;
    }
    if (!newest) throw new Error('the key store holds no signing keys');
    this.signing = { kid: newest.kid, alg: newest.alg, key: (await importJWK(newest.privateJwk as JWK, newest.alg)) as CryptoKey };
    this.verifying = verifying;
    this.version = version;
  }

  /** Reloads when the key set changed. */
  async refresh(): Promise<void> {
    if ((await this.store.signingKeysVersion()) !== this.version) await this.reload();
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
    // Unknown kids (a key just added by another process, or a forged header) look the set up at most once a second.
    const t = this.now();
    if (t - this.lastUnknownLookup < 1000) return undefined;
    this.lastUnknownLookup = t;
    await this.refresh();
    return this.verifying.get(kid);
  }
}
