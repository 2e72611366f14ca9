import { decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { loadSigningKey, signClientAssertion } from './auth.js';
import { tokenUrlFromCapabilityStatement } from './discovery.js';

describe('client assertions', () => {
  it('signs RS384 and ES384 assertions with iss = sub = client_id, aud, exp ≤ 5 min, a unique jti and the kid', async () => {
    for (const alg of ['RS384', 'ES384'] as const) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
      const jwk = await exportJWK(privateKey); // neither alg nor kid: taken from the key type and the thumbprint
      const signing = await loadSigningKey(jwk);
      expect(signing.alg).toBe(alg);
      const now = Date.now();
      const a = await signClientAssertion(signing, 'client-1', 'https://auth.example/token', now);
      const b = await signClientAssertion(signing, 'client-1', 'https://auth.example/token', now);
      expect(decodeProtectedHeader(a)).toEqual({ alg, kid: signing.kid, typ: 'JWT' });
      const { payload } = await jwtVerify(a, publicKey, { issuer: 'client-1', subject: 'client-1', audience: 'https://auth.example/token' });
      expect((payload.exp as number) - now / 1000).toBeLessThanOrEqual(300);
      expect(payload.jti).not.toBe(decodeJwt(b).jti);
    }
  });

  it('refuses public keys and other algorithms', async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    await expect(loadSigningKey(await exportJWK(publicKey))).rejects.toThrow(/not a private key/);
    await expect(loadSigningKey(await exportJWK(privateKey))).rejects.toThrow(/EC P-256 is not supported/);
    await expect(loadSigningKey({ ...(await exportJWK(privateKey)), alg: 'ES256' })).rejects.toThrow(/ES256 is not supported/);
  });
});

describe('tokenUrlFromCapabilityStatement', () => {
  it('reads the oauth-uris extension', () => {
    const cs = {
      resourceType: 'CapabilityStatement',
      rest: [
        {
          security: {
            extension: [
              {
                url: 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris',
                extension: [
                  { url: 'authorize', valueUri: 'https://a/authorize' },
                  { url: 'token', valueUri: 'https://a/token' },
                ],
              },
            ],
          },
        },
      ],
    };
    expect(tokenUrlFromCapabilityStatement(cs)).toBe('https://a/token');
    expect(tokenUrlFromCapabilityStatement({ rest: [{}] })).toBeUndefined();
    expect(tokenUrlFromCapabilityStatement(null)).toBeUndefined();
  });
});
