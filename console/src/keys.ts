/**
 * Keys for a client registration, made in the browser with WebCrypto: a generated key pair (the private key never
 * leaves the page but in the client file the operator downloads), or a public key pasted as PEM turned into a JWK.
 */

export type KeyAlg = 'ES384' | 'RS384';

const PARAMS: Record<KeyAlg, EcKeyGenParams | RsaHashedKeyGenParams> = {
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
  RS384: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-384' },
};

const b64url = (bytes: ArrayBuffer): string =>
  btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');

/** The RFC 7638 thumbprint of a public JWK (its kid). */
export async function thumbprint(jwk: JsonWebKey): Promise<string> {
  const members = jwk.kty === 'EC' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y } : { e: jwk.e, kty: jwk.kty, n: jwk.n };
  return b64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(JSON.stringify(members))));
}

const publicPart = (jwk: JsonWebKey): JsonWebKey =>
  jwk.kty === 'EC' ? { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y } : { kty: jwk.kty, n: jwk.n, e: jwk.e };

/** A new key pair: the public JWK to register and the private JWK for the client file (same kid and alg). */
export async function generateKeyPair(alg: KeyAlg): Promise<{ publicJwk: Record<string, unknown>; privateJwk: Record<string, unknown> }> {
  const pair = (await crypto.subtle.generateKey(PARAMS[alg], true, ['sign', 'verify'])) as CryptoKeyPair;
  const priv = await crypto.subtle.exportKey('jwk', pair.privateKey);
  const kid = await thumbprint(priv);
  const pub = { ...publicPart(priv), kid, alg, use: 'sig' };
  const { key_ops: _ops, ext: _ext, ...privRest } = priv;
  return { publicJwk: pub, privateJwk: { ...privRest, kid, alg, use: 'sig' } };
}

/** A pasted public key: a JWKS or a single JWK (JSON), or a PEM `PUBLIC KEY` (EC P-384/P-256 or RSA) → a JWKS. */
export async function jwksFromPaste(text: string): Promise<{ keys: Record<string, unknown>[] }> {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw new Error('The pasted key is not valid JSON.');
    }
    const o = json as { keys?: unknown; kty?: unknown };
    if (Array.isArray(o.keys)) return o as { keys: Record<string, unknown>[] };
    if (typeof o.kty === 'string') return { keys: [o as Record<string, unknown>] };
    throw new Error('The pasted JSON is neither a JWK Set ({"keys": [...]}) nor a JWK.');
  }
  const m = /-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/.exec(trimmed);
  if (!m?.[1]) throw new Error('Paste a JWK Set, a JWK, or a PEM public key (-----BEGIN PUBLIC KEY-----).');
  const der = Uint8Array.from(atob(m[1].replace(/\s+/g, '')), (c) => c.charCodeAt(0));
  const tries: [EcKeyImportParams | RsaHashedImportParams, KeyAlg | 'ES256'][] = [
    [{ name: 'ECDSA', namedCurve: 'P-384' }, 'ES384'],
    [{ name: 'ECDSA', namedCurve: 'P-256' }, 'ES256'],
    [{ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-384' }, 'RS384'],
  ];
  for (const [params, alg] of tries) {
    try {
      const key = await crypto.subtle.importKey('spki', der, params, true, ['verify']);
      const jwk = publicPart(await crypto.subtle.exportKey('jwk', key));
      return { keys: [{ ...jwk, kid: await thumbprint(jwk), alg, use: 'sig' }] };
    } catch {
      // not this kind of key
    }
  }
  throw new Error('The PEM key is not an EC (P-384, P-256) or RSA public key.');
}

/** Offers `text` as a file download (once: the object URL is revoked right after). */
export function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
