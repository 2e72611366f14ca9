/**
 * Key files as users have them: a JWK, a JWK Set, or PEM (PKCS#8 and SPKI, PKCS#1 RSA, SEC1 EC, an X.509
 * certificate), read into JWKs with a `kid` (the key's thumbprint when it has none) and an `alg` (RSA → RS384,
 * EC P-384 → ES384). Also a fresh key pair for a new client.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { AssertionAlg } from './auth.js';

/** What `--help` says a key file may be. */
export const KEY_FORMATS = 'a JWK, a JWK Set, or PEM (PKCS#8/SPKI, PKCS#1 RSA, SEC1 EC, X.509 certificate)';

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export interface KeyFile {
  /** The private key, when the file holds one. */
  privateJwk?: JWK;
  /** The public keys: the file's own, or the public half of its private key. */
  publicJwks: { keys: JWK[] };
}

export class KeyFileError extends Error {}

const publicOf = (jwk: JWK): JWK => Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE_MEMBERS.includes(k))) as JWK;

/** The signing algorithm flatfhir's clients use for a key, if any. */
function algFor(jwk: JWK): AssertionAlg | undefined {
  if (jwk.kty === 'RSA') return 'RS384';
  if (jwk.kty === 'EC' && jwk.crv === 'P-384') return 'ES384';
  return undefined;
}

/** A key read from PEM as a JWK with kid (thumbprint) and alg. */
async function describe(key: KeyObject): Promise<JWK> {
  const jwk = key.export({ format: 'jwk' }) as JWK;
  const alg = algFor(jwk);
  return { ...jwk, kid: await calculateJwkThumbprint(publicOf(jwk)), ...(alg ? { alg } : {}), use: 'sig' };
}

async function fromPem(text: string, name: string): Promise<KeyFile> {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g)];
  let privateJwk: JWK | undefined;
  const keys: JWK[] = [];
  for (const [block, label] of blocks) {
    if (label === 'EC PARAMETERS') continue;
    if (label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type: 4,ENCRYPTED/.test(block)) {
      throw new KeyFileError(`${name} holds an encrypted private key: decrypt it first (openssl pkey -in ${name} -out key.pem).`);
    }
    try {
      if (label?.endsWith('PRIVATE KEY')) {
        if (privateJwk) throw new KeyFileError(`${name} holds more than one private key.`);
        const key = createPrivateKey(block);
        privateJwk = await describe(key);
        keys.push(publicOf(privateJwk));
      } else if (label?.endsWith('PUBLIC KEY') || label === 'CERTIFICATE') {
        keys.push(await describe(createPublicKey(block)));
      } else {
        throw new KeyFileError(`${name}: a PEM block "${label ?? ''}" is not a key.`);
      }
    } catch (e) {
      if (e instanceof KeyFileError) throw e;
      throw new KeyFileError(`${name}: the PEM block "${label ?? ''}" cannot be read: ${(e as Error).message}`);
    }
  }
  if (keys.length === 0) throw new KeyFileError(`${name} holds no PEM key.`);
  return { ...(privateJwk ? { privateJwk } : {}), publicJwks: { keys } };
}

function fromJson(value: unknown, name: string): KeyFile {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new KeyFileError(`${name} is neither a JWK nor a JWK Set.`);
  const list: unknown = 'keys' in value ? (value as { keys: unknown }).keys : [value];
  if (!Array.isArray(list) || list.length === 0) throw new KeyFileError(`${name}: the JWK Set has no keys.`);
  const keys = list as JWK[];
  if (!keys.every((k) => typeof k === 'object' && k !== null && typeof k.kty === 'string')) throw new KeyFileError(`${name}: every key needs a "kty".`);
  const privates = keys.filter((k) => PRIVATE_MEMBERS.some((m) => m in k));
  return {
    ...(privates[0] ? { privateJwk: privates[0] } : {}),
    publicJwks: { keys: keys.map(publicOf) },
  };
}

/** Reads the text of a key file (`name` is for messages). */
export async function parseKeyFile(text: string, name: string): Promise<KeyFile> {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) return fromPem(trimmed, name);
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new KeyFileError(`${name} is not a key file: expected ${KEY_FORMATS}.`);
  }
  return fromJson(json, name);
}

/**
 * The JWK Set a key file holds, exactly as it is (a JWK Set, or a single JWK as a one-key set) for JSON, so that
 * registration sees what the user gave; PEM keys as JWKs with kid and alg.
 */
export async function jwksOfKeyFile(text: string, name: string): Promise<{ jwks: unknown; privateJwk?: JWK }> {
  const trimmed = text.trim();
  if (trimmed.startsWith('-----BEGIN')) {
    const parsed = await fromPem(trimmed, name);
    return { jwks: parsed.publicJwks, ...(parsed.privateJwk ? { privateJwk: parsed.privateJwk } : {}) };
  }
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    throw new KeyFileError(`${name} is not a key file: expected ${KEY_FORMATS}.`);
  }
  if (json && typeof json === 'object' && !Array.isArray(json) && !('keys' in json) && 'kty' in json) json = { keys: [json] };
  return { jwks: json };
}

/** A new key pair for a client: the private JWK (with kid and alg) and the public JWK Set to register. */
export async function generateClientKeyPair(alg: AssertionAlg = 'ES384'): Promise<{ privateJwk: JWK; publicJwks: { keys: JWK[] } }> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS384' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  const privateJwk: JWK = { ...jwk, kid: await calculateJwkThumbprint(publicOf(jwk)), alg, use: 'sig' };
  return { privateJwk, publicJwks: { keys: [publicOf(privateJwk)] } };
}
