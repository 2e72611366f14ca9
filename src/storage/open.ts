/** Choosing the object storage adapter a configuration names (for composition roots only). */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { KeyStore } from '../store/ports.js';
import { FsObjectStorage } from './fs/index.js';
import type { ObjectStorage } from './ports.js';

/**
 * `storage.url` s3://bucket/prefix: the S3 adapter; absent: files under `<dataDir>/exports`, their download URLs
 * signed with the store's `download-signing` secret (so every API process on the store accepts them). Each adapter
 * module is imported only when chosen.
 */
export async function openStorage(config: Pick<Config, 'dataDir' | 'storage'>, keys: KeyStore): Promise<ObjectStorage> {
  const { url, s3 } = config.storage;
  if (url) {
    // The AWS SDK is loaded only when S3 is configured: the embedded server never holds it in memory.
    const { parseS3Url, S3ObjectStorage } = await import('./s3/index.js');
    return new S3ObjectStorage({
      ...parseS3Url(url),
      ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
      ...(s3.presignEndpoint ? { presignEndpoint: s3.presignEndpoint } : {}),
      region: s3.region,
      forcePathStyle: s3.forcePathStyle,
      ...(s3.accessKeyId && s3.secretAccessKey ? { credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } : {}),
      partSize: s3.partSizeMb * 1024 * 1024,
    });
  }
  const secret = await keys.secret('download-signing', () => randomBytes(32));
  return new FsObjectStorage(join(config.dataDir, 'exports'), secret);
}
