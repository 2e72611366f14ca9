/** Choosing the object storage adapter a configuration names (for composition roots only). */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { FsObjectStorage, loadSigningSecret } from './fs/index.js';
import type { ObjectStorage } from './ports.js';
import { parseS3Url, S3ObjectStorage } from './s3/index.js';

/** `storage.url` s3://bucket/prefix: the S3 adapter; absent: files under `<dataDir>/exports`. */
export async function openStorage(config: Pick<Config, 'dataDir' | 'storage'>): Promise<ObjectStorage> {
  const { url, s3 } = config.storage;
  if (url) {
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
  const secret = await loadSigningSecret(join(config.dataDir, 'keys', 'download-signing.key'));
  return new FsObjectStorage(join(config.dataDir, 'exports'), secret);
}
