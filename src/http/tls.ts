/**
 * HTTPS served by flatfhir itself: the certificate and key read from PEM files, TLS 1.2 at least, and a reload
 * that swaps the certificate of a running server (new connections get the new one; open ones keep theirs).
 */
import { readFile } from 'node:fs/promises';
import { createSecureContext, type SecureContextOptions, type Server as TlsServer } from 'node:tls';

export const TLS_MIN_VERSION = 'TLSv1.2';

export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
}

/** Reads and checks (the key must match the certificate) a certificate and key; rejects with the reason. */
export async function readTlsCredentials(files: { cert: string; key: string }): Promise<TlsCredentials> {
  const [cert, key] = await Promise.all([readFile(files.cert), readFile(files.key)]);
  createSecureContext({ cert, key });
  return { cert, key };
}

/** The options of a TLS server (or of its new secure context) for these credentials. */
export function tlsOptions(credentials: TlsCredentials): SecureContextOptions & { minVersion: typeof TLS_MIN_VERSION } {
  return { cert: credentials.cert, key: credentials.key, minVersion: TLS_MIN_VERSION };
}

/** Swaps the certificate of a running HTTPS server. */
export function reloadTls(server: TlsServer, credentials: TlsCredentials): void {
  server.setSecureContext(tlsOptions(credentials));
}
