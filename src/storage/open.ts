/** Choosing the object storage adapter a configuration names (for composition roots only). */
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import { FsObjectStorage, loadSigningSecret } from './fs/index.js';
import type { ObjectStorage } from './ports.js';

export async function openStorage(config: Pick<Config, 'dataDir'>): Promise<ObjectStorage> {
  const secret = await loadSigningSecret(join(config.dataDir, 'keys', 'download-signing.key'));
  return new FsObjectStorage(join(config.dataDir, 'exports'), secret);
}
