/**
 * An S3-protocol server for the tests (s3rver: objects on the local disk, SigV4 checked with the S3RVER/S3RVER
 * key pair), on a free loopback port with a temporary directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import S3rver from '@20minutes/s3rver';
import type { ConfigInput } from '../../src/config/index.js';

/**
 * s3rver signs a bucket-level request (HeadBucket, ListObjectsV2) over `/bucket` while the AWS SDK signs the path it
 * sends, `/bucket/`, so it refuses them: its canonical request is given the trailing slash back.
 */
const v4 = createRequire(import.meta.url)('@20minutes/s3rver/lib/signature/v4.js') as {
  getStringToSign: (canonicalRequest: { uri: string }, request: unknown) => string;
  patched?: boolean;
};
/**
 * s3rver makes its listing continuation tokens with single DES, which OpenSSL 3 leaves out: the same cipher is
 * given as triple DES with the key repeated (identical output), so truncated listings work.
 */
const cjsCrypto = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto') & { desPatched?: boolean };
if (!cjsCrypto.desPatched) {
  const { createCipheriv, createDecipheriv } = cjsCrypto;
  const tripled = (key: Buffer): Buffer => Buffer.concat([key, key, key]);
  cjsCrypto.createCipheriv = ((alg: string, key: Buffer, iv: Buffer) =>
    alg === 'des' ? createCipheriv('des-ede3-cbc', tripled(key), iv) : createCipheriv(alg, key, iv)) as typeof createCipheriv;
  cjsCrypto.createDecipheriv = ((alg: string, key: Buffer, iv: Buffer) =>
    alg === 'des' ? createDecipheriv('des-ede3-cbc', tripled(key), iv) : createDecipheriv(alg, key, iv)) as typeof createDecipheriv;
  cjsCrypto.desPatched = true;
}
if (!v4.patched) {
  const original = v4.getStringToSign.bind(v4);
  v4.getStringToSign = (canonicalRequest, request) =>
    original(/^\/[^/]+$/.test(canonicalRequest.uri) ? { ...canonicalRequest, uri: `${canonicalRequest.uri}/` } : canonicalRequest, request);
  v4.patched = true;
}

export interface TestS3 {
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** The `storage` configuration of a flatfhir using this server under `prefix`. */
  storageConfig(prefix?: string): NonNullable<ConfigInput['storage']>;
  /** Every key in the bucket under a prefix. */
  listKeys(prefix?: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function startS3(bucket = 'flatfhir-test'): Promise<TestS3> {
  const directory = await mkdtemp(join(tmpdir(), 'flatfhir-s3-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: process.env['S3RVER_LOG'] !== '1', directory, configureBuckets: [{ name: bucket }] });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  return {
    endpoint,
    bucket,
    credentials,
    storageConfig: (prefix = 'exports') => ({
      url: `s3://${bucket}/${prefix}`,
      s3: { endpoint, forcePathStyle: true, ...credentials },
    }),
    async listKeys(prefix = '') {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1000 }));
      if (page.IsTruncated) throw new Error('more keys than one listing page: the tests keep fewer');
      return (page.Contents ?? []).map((o) => o.Key as string).sort();
    },
    async close() {
      client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
