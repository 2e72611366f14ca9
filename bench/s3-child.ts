/**
 * The benchmarks' S3-protocol server (an s3rver, as the tests use) in a process of its own, so its CPU time is
 * measured apart from the benchmark's. Prints {endpoint} once it listens; stops on SIGTERM.
 */
import { startS3 } from '../test/helpers/s3.js';

const s3 = await startS3(process.argv[2] ?? 'flatfhir-bench');
console.log(JSON.stringify({ endpoint: s3.endpoint, bucket: s3.bucket, credentials: s3.credentials }));
process.once('SIGTERM', () => {
  void s3.close().then(() => process.exit(0));
});
