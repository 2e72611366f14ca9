/**
 * The credentials `flatfhir export` and `flatfhir token` take: a client file (what `serve` writes for the sandbox
 * and `client register --client-file-out` for a new client), or a client id with a private key file.
 */
import { readFile } from 'node:fs/promises';
import type { JWK } from 'jose';
import { KEY_FORMATS, KeyFileError, parseKeyFile } from '../client/keys.js';

/** The client file `flatfhir serve` writes for the sandbox (data/sandbox-client.json), or one like it. */
export interface ClientFile {
  tenant?: string;
  fhirBaseUrl?: string;
  tokenUrl?: string;
  clientId: string;
  scope?: string;
  privateJwk: JWK;
}

export interface CredentialOptions {
  clientFile?: string;
  clientId?: string;
  privateKey?: string;
  fhirUrl?: string;
  tokenUrl?: string;
  scope?: string;
}

export interface Credentials {
  fhirBaseUrl?: string;
  tokenUrl?: string;
  clientId: string;
  privateKey: JWK;
  scope: string;
}

export const PRIVATE_KEY_HELP = `the private key (RS384 or ES384) to sign client assertions with: ${KEY_FORMATS}`;

async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`Cannot read ${what} ${file}: ${(e as Error).message}`);
  }
}

export async function readClientFile(file: string): Promise<ClientFile> {
  const text = await readText(file, 'the client file');
  let f: Partial<ClientFile> | null;
  try {
    f = JSON.parse(text) as Partial<ClientFile> | null;
  } catch {
    throw new Error(`The client file ${file} is not JSON.`);
  }
  if (!f || typeof f !== 'object' || typeof f.clientId !== 'string' || !f.privateJwk || typeof f.privateJwk !== 'object') {
    throw new Error(`The client file ${file} needs clientId and privateJwk (and usually fhirBaseUrl, tokenUrl, scope).`);
  }
  return f as ClientFile;
}

/** The private key a `--private-key` file holds (JWK, JWK Set or PEM). */
export async function readPrivateKey(file: string): Promise<JWK> {
  const text = await readText(file, 'the private key');
  try {
    const parsed = await parseKeyFile(text, file);
    if (!parsed.privateJwk) throw new KeyFileError(`${file} holds no private key (only public keys).`);
    return parsed.privateJwk;
  } catch (e) {
    if (e instanceof KeyFileError) throw new Error(e.message);
    throw e;
  }
}

const sameUrl = (a: string | undefined, b: string | undefined): boolean =>
  a !== undefined && b !== undefined && a.replace(/\/+$/, '') === b.replace(/\/+$/, '');

/** The credentials the options name; `defaultScope` when neither the options nor the client file give one. */
export async function credentialsFrom(opts: CredentialOptions, defaultScope: string): Promise<Credentials> {
  if (opts.clientFile !== undefined) {
    if (opts.clientId !== undefined || opts.privateKey !== undefined) throw new Error('Give either --client-file or --client-id with --private-key, not both.');
    const file = await readClientFile(opts.clientFile);
    const fhirBaseUrl = opts.fhirUrl ?? file.fhirBaseUrl;
    // The file's token URL belongs to its own server: used unless --fhir-url points elsewhere.
    const tokenUrl = opts.tokenUrl ?? (opts.fhirUrl === undefined || sameUrl(opts.fhirUrl, file.fhirBaseUrl) ? file.tokenUrl : undefined);
    return {
      ...(fhirBaseUrl !== undefined ? { fhirBaseUrl } : {}),
      ...(tokenUrl !== undefined ? { tokenUrl } : {}),
      clientId: file.clientId,
      privateKey: file.privateJwk,
      scope: opts.scope ?? file.scope ?? defaultScope,
    };
  }
  if (opts.clientId === undefined || opts.privateKey === undefined) {
    throw new Error('Give --client-file, or --client-id with --private-key (a private key file).');
  }
  return {
    ...(opts.fhirUrl !== undefined ? { fhirBaseUrl: opts.fhirUrl } : {}),
    ...(opts.tokenUrl !== undefined ? { tokenUrl: opts.tokenUrl } : {}),
    clientId: opts.clientId,
    privateKey: await readPrivateKey(opts.privateKey),
    scope: opts.scope ?? defaultScope,
  };
}
