/**
 * The client library as another project imports it: `import { BulkExportClient } from 'flatfhir/client'` from a
 * project that has flatfhir in its node_modules (a link to this repository, as `npm install ../flatfhir` makes).
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from './helpers/process.js';

const run = promisify(execFile);
let dir: string | undefined;
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('package exports', () => {
  it('flatfhir/client resolves to the built client library, with its types', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flatfhir-consumer-'));
    await mkdir(join(dir, 'node_modules'));
    await symlink(REPO, join(dir, 'node_modules', 'flatfhir'), 'dir');
    await writeFile(join(dir, 'package.json'), '{ "type": "module" }\n');
    await writeFile(
      join(dir, 'main.js'),
      [
        "import { BulkExportClient, discoverTokenUrl } from 'flatfhir/client';",
        "import { createRequire } from 'node:module';",
        'const require = createRequire(import.meta.url);',
        "const types = require.resolve('flatfhir/package.json').replace(/package\\.json$/, 'dist/client/index.d.ts');",
        "console.log(JSON.stringify({ client: typeof BulkExportClient, discover: typeof discoverTokenUrl, types }));",
      ].join('\n'),
    );
    const { stdout } = await run(process.execPath, ['main.js'], { cwd: dir });
    const result = JSON.parse(stdout) as { client: string; discover: string; types: string };
    expect(result).toMatchObject({ client: 'function', discover: 'function' });
    const { stat } = await import('node:fs/promises');
    expect((await stat(result.types)).isFile()).toBe(true);
    // Only the declared entry points are reachable.
    await expect(run(process.execPath, ['--input-type=module', '-e', "await import('flatfhir/dist/main.js')"], { cwd: dir })).rejects.toThrow(
      /ERR_PACKAGE_PATH_NOT_EXPORTED/,
    );
  });
});
