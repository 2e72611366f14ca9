/**
 * Objects in an S3-compatible store (AWS S3, Ceph RGW, SeaweedFS, Garage, MinIO) under a key prefix of one
 * bucket. Uploads stream as multipart uploads (lib-storage), which S3 makes visible only once complete; downloads
 * are pre-signed GET URLs the store serves itself (Range included; no on-the-fly gzip, which S3 does not do).
 *
 * Portability: the client sends checksums only where an operation requires them (SDK v3.729 and later send them by
 * default, which many S3-compatible stores refuse), upload bodies with an unsigned payload, and objects are deleted
 * one by one (DeleteObjects requires Content-MD5 on several stores, which the SDK no longer sends).
 */
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { isValidObjectKey, objectContentType, type ObjectStorage } from '../ports.js';

export interface S3StorageOptions {
  bucket: string;
  /** Key prefix inside the bucket ('' or ending in '/'). */
  prefix: string;
  /** Endpoint URL (absent: AWS S3 of the region). */
  endpoint?: string;
  /** Endpoint the download URLs are signed for (absent: `endpoint`). */
  presignEndpoint?: string;
  region: string;
  forcePathStyle: boolean;
  /** Explicit credentials; absent: the SDK's default provider chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Multipart part size in bytes (at least 5 MiB). */
  partSize: number;
  /** Keys per listing page when deleting a folder (default 1000, the S3 maximum). */
  listPageSize?: number;
}

/** Splits `s3://bucket/some/prefix` into the bucket and a key prefix ('' or ending in '/'). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m?.[1]) throw new Error(`Invalid S3 storage URL ${url}: expected s3://bucket or s3://bucket/prefix`);
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1], prefix: prefix === '' ? '' : `${prefix}/` };
}

const status = (e: unknown): number | undefined => (e as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;

/** Parts of one upload in flight at once: two keep the store busy while the next fills; each holds a part in memory. */
const UPLOAD_QUEUE = 2;
/** Commands whose body is an object's content (sent with an unsigned payload). */
const UNSIGNED_COMMANDS = new Set(['PutObjectCommand', 'UploadPartCommand']);
/** Objects deleted at once by deletePrefix. */
const DELETE_CONCURRENCY = 16;

export class S3ObjectStorage implements ObjectStorage {
  private readonly client: S3Client;
  private readonly presigner: S3Client;

  constructor(private readonly options: S3StorageOptions) {
    const base: S3ClientConfig = {
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...(options.credentials ? { credentials: options.credentials } : {}),
    };
    this.client = new S3Client({ ...base, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
    // Upload bodies are sent with an unsigned payload (SigV4's UNSIGNED-PAYLOAD, which S3 and the compatible
    // stores accept): the SDK would otherwise hash every part with SHA-256 to sign it, the largest CPU cost of an
    // upload after the copying. The request itself stays signed; TLS (https endpoints) protects the body.
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const request = args.request as { headers?: Record<string, string> };
        if (UNSIGNED_COMMANDS.has(context.commandName ?? '') && request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
        return next(args);
      },
      { step: 'build', name: 'flatfhirUnsignedPayload' },
    );
    const presignEndpoint = options.presignEndpoint ?? options.endpoint;
    this.presigner =
      options.presignEndpoint && options.presignEndpoint !== options.endpoint
        ? new S3Client({ ...base, ...(presignEndpoint ? { endpoint: presignEndpoint } : {}) })
        : this.client;
  }

  private objectKey(key: string): string {
    if (!isValidObjectKey(key)) throw new Error(`Invalid object key ${key}`);
    return `${this.options.prefix}${key}`;
  }

  async put(key: string, body: Readable | AsyncIterable<Buffer | string>): Promise<{ bytes: number }> {
    const Key = this.objectKey(key);
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer | string, _encoding, callback) {
        const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
        bytes += buffer.length;
        callback(null, buffer);
      },
    });
    // One batch read ahead of the upload's own part buffer, not sixteen (Readable.from's default).
    const source = body instanceof Readable ? body : Readable.from(body, { highWaterMark: 1 });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.options.bucket, Key, Body: counter, ContentType: objectContentType(Key), CacheControl: 'private, no-store' },
      partSize: this.options.partSize,
      queueSize: UPLOAD_QUEUE,
      leavePartsOnError: false,
    });
    const done = upload.done();
    // A failing body fails the upload (the counter is destroyed with its error, so no part completes it); a failing
    // upload stops reading the body.
    const feeding = pipeline(source, counter);
    done.catch(() => undefined);
    feeding.catch(() => undefined);
    try {
      await Promise.all([feeding, done]);
    } catch (e) {
      counter.destroy();
      source.destroy();
      await upload.abort().catch(() => undefined);
      throw e;
    }
    return { bytes };
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<Readable> {
    const result = await this.client.send(
      new GetObjectCommand({
        Bucket: this.options.bucket,
        Key: this.objectKey(key),
        ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
      }),
    );
    if (!(result.Body instanceof Readable)) throw new Error(`S3 returned no readable body for ${key}`);
    return result.Body;
  }

  async stat(key: string): Promise<{ bytes: number } | undefined> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }));
      return { bytes: head.ContentLength ?? 0 };
    } catch (e) {
      if (status(e) === 404) return undefined;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }));
  }

  async deletePrefix(prefix: string): Promise<void> {
    const folder = prefix.replace(/\/+$/, '');
    const Prefix = `${this.objectKey(folder)}/`;
    // Each round lists the first page left and deletes it, until nothing is left: no continuation token to keep
    // (some stores implement them poorly), and objects a late writer adds meanwhile are caught too.
    const deleted = new Set<string>();
    for (;;) {
      const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix, MaxKeys: this.options.listPageSize ?? 1000 }));
      const keys = (page.Contents ?? []).map((o) => o.Key).filter((k): k is string => typeof k === 'string');
      if (keys.length === 0) return;
      if (keys.some((k) => deleted.has(k))) throw new Error(`Objects under ${Prefix} are still listed after their deletion`);
      for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
        await Promise.all(keys.slice(i, i + DELETE_CONCURRENCY).map((Key) => this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key }))));
      }
      for (const k of keys) deleted.add(k);
      if (!page.IsTruncated) return;
    }
  }

  async presign(key: string, expiresAt: number, _origin: string): Promise<string> {
    // S3 signs a start instant and a lifetime in whole seconds: the URL is valid until expiresAt (rounded up).
    const expiresIn = Math.max(1, Math.ceil((expiresAt - Date.now()) / 1000));
    const signingDate = new Date(Math.floor((expiresAt - expiresIn * 1000) / 1000) * 1000);
    return getSignedUrl(this.presigner, new GetObjectCommand({ Bucket: this.options.bucket, Key: this.objectKey(key) }), { expiresIn, signingDate });
  }

  async check(): Promise<void> {
    await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
  }

  async close(): Promise<void> {
    this.client.destroy();
    if (this.presigner !== this.client) this.presigner.destroy();
  }
}
