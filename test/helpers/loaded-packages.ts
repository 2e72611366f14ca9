/**
 * A child-process entry (run with tsx): starts a runtime from the configuration given as JSON in argv[2], with its
 * export worker, and prints the npm packages loaded by then as a JSON array (the adapters' dependencies are
 * CommonJS, so every one of them is in the require cache once loaded).
 */
import { createRequire } from 'node:module';
import { loadConfig } from '../../src/config/index.js';
import { createLogger, createRuntime } from '../../src/main.js';

const config = loadConfig(JSON.parse(process.argv[2] as string) as Parameters<typeof loadConfig>[0], {});
const runtime = await createRuntime(config, { log: createLogger(config) });
await runtime.app.listen({ port: 0, host: '127.0.0.1' });
await runtime.worker.start();
const packages = new Set<string>();
for (const file of Object.keys(createRequire(import.meta.url).cache)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file);
  if (m) packages.add(m[1] as string);
}
await runtime.close();
console.log(JSON.stringify([...packages].sort()));
