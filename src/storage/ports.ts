import type { Readable, Writable } from 'node:stream';

/** The media type export files (NDJSON objects) are served with. */
export const OBJECT_CONTENT_TYPE = 'application/fhir+ndjson';

/** Media types of the other objects, by the extension of their key: `$sql-export` writes CSV, JSON and Parquet. */
const CONTENT_TYPES: Record<string, string> = { csv: 'text/csv', json: 'application/json', parquet: 'application/vnd.apache.parquet' };

/** The media type an object is stored and served with: by its key's extension, NDJSON (OBJECT_CONTENT_TYPE) else. */
export function objectContentType(key: string): string {
  const ext = /\.([A-Za-z0-9]+)$/.exec(key)?.[1]?.toLowerCase();
  return (ext !== undefined ? CONTENT_TYPES[ext] : undefined) ?? OBJECT_CONTENT_TYPE;
}

/** Object keys: `/`-separated path segments of letters, digits, `.`, `_` and `-` (no empty, `.` or `..` segment). */
const OBJECT_KEY = /^[A-Za-z0-9][A-Za-z0-9._\-/]{0,300}$/;

export function isValidObjectKey(key: string): boolean {
  return OBJECT_KEY.test(key) && !key.split('/').some((p) => p === '..' || p === '.' || p === '');
}

/**
 * Where export files live. Adapters: fs/ (files under a directory, downloads served by flatfhir itself) and s3/
 * (an S3-compatible object store, downloads served by the store). One contract suite (test/storage-contract.test.ts)
 * runs over both; what it checks holds for every adapter. Every method rejects a key that is not
 * `isValidObjectKey`.
 */
export interface ObjectStorage {
  /**
   * Streams a body into the object `key` and resolves with its size in bytes. The object becomes visible only once
   * complete: a failed put (the body errors, the store fails) rejects and leaves no object, or the earlier one.
   * Objects are stored with the Content-Type `objectContentType(key)` names.
   */
  put(key: string, body: Readable | AsyncIterable<Buffer | string>): Promise<{ bytes: number }>;
  /** Reads an object, or a byte range of it (`end` inclusive, as in HTTP Range); rejects when it does not exist. */
  get(key: string, range?: { start: number; end?: number }): Promise<Readable>;
  /** The object's size, or undefined when it does not exist. */
  stat(key: string): Promise<{ bytes: number } | undefined>;
  /** Deletes an object; deleting one that does not exist succeeds. */
  delete(key: string): Promise<void>;
  /**
   * Deletes every object under a folder prefix (`jobs/<id>/`: the trailing slash is implied when absent); a prefix
   * with nothing under it succeeds. Objects under other folders stay, however alike their names (`jobs/<id>2/`).
   */
  deletePrefix(prefix: string): Promise<void>;
  /**
   * A URL that reads the object with a plain GET, without further credentials, until `expiresAt` (epoch ms; stores
   * that sign in whole seconds round it up), and is refused (403) after. Responses honour `Range` (206,
   * `Content-Range`; 416 when unsatisfiable) and carry the Content-Type `objectContentType(key)`. Signed when called, so a
   * URL never outlives its lifetime. `origin` is the public origin of this server, for adapters whose URLs flatfhir
   * serves itself.
   */
  presign(key: string, expiresAt: number, origin: string): Promise<string>;
  /** For adapters flatfhir serves itself: checks a pre-signed URL's signature and expiry. */
  verifyPresigned?(key: string, expiresAt: number, signature: string, now: number): boolean;
  /**
   * For adapters flatfhir serves itself: writes the object, or a byte range of it, to `out` through two buffers
   * reused from read to read (a download holds them whatever its size, and allocates nothing more), each read
   * waiting until the write before last is flushed. `opened` is called once the object is open, before the first
   * write. Resolves once everything is written (the caller ends `out`); rejects when the object cannot be read or
   * `out` fails or closes first.
   */
  writeTo?(key: string, out: Writable, range: { start: number; end?: number } | undefined, opened: () => void): Promise<void>;
  /** Resolves when the storage is reachable and writable; rejects with the reason otherwise (readiness checks). */
  check(): Promise<void>;
  /** Releases connections; the storage is not used afterwards. */
  close(): Promise<void>;
}

/** Path under which flatfhir serves pre-signed downloads of locally stored objects. */
export const DOWNLOAD_PATH = '/bulk-files';
