// Builds the admin web console (console/) into dist/console: one bundled script, its stylesheet and page.
// Run by `npm run build` and `npm install` (prepare); `node scripts/build-console.mjs [outdir]`.
import { copyFile, mkdir, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildConsole(outdir = join(root, 'dist', 'console')) {
  await rm(outdir, { recursive: true, force: true });
  await mkdir(outdir, { recursive: true });
  await build({
    entryPoints: [join(root, 'console', 'src', 'main.tsx')],
    outfile: join(outdir, 'app.js'),
    bundle: true,
    format: 'esm',
    target: ['es2022'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    sourcemap: true,
    legalComments: 'linked',
    logLevel: 'warning',
  });
  await copyFile(join(root, 'console', 'index.html'), join(outdir, 'index.html'));
  await copyFile(join(root, 'console', 'styles.css'), join(outdir, 'styles.css'));
  return outdir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildConsole(process.argv[2] ? resolve(process.argv[2]) : undefined);
}
