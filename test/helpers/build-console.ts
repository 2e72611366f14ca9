/** Vitest global setup: builds the console (console/ → dist/console) once before the tests, as `npm run build` does. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export default function setup(): void {
  execFileSync(process.execPath, [join(import.meta.dirname, '..', '..', 'scripts', 'build-console.mjs')], { stdio: 'inherit' });
}
