import type { Readable } from 'node:stream';

/** Where export files live. Adapters: fs/ (local, served by flatfhir itself) and s3/ (S3-compatible). */
export interface ObjectStorage {
  /** Writes a stream to a temporary object and commits it under `key` atomically; returns its size. */
  put(key: string, body: Readable | AsyncIterable<Buffer | string>): Promise<{ bytes: number }>;
  /** Reads an object, optionally a byte range (inclusive end). */
  get(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  stat(key: string): Promise<{ bytes: number } | undefined>;
  delete(key: string): Promise<void>;
  /** Deletes every object whose key starts with the prefix. */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A URL that reads the object without further credentials until `expiresAt` (epoch ms). `origin` is the public
   * origin of this server, for adapters whose URLs flatfhir serves itself.
   */
  presign(key: string, expiresAt: number, origin: string): Promise<string>;
  /** For adapters flatfhir serves itself: checks a pre-signed URL's signature and expiry. */
  verifyPresigned?(key: string, expiresAt: number, signature: string, now: number): boolean;
}

/** Path under which flatfhir serves pre-signed downloads of locally stored objects. */
export const DOWNLOAD_PATH = '/bulk-files';
