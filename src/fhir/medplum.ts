import { createRequire } from 'node:module';

type Core = typeof import('@medplum/core');
let core: Core | undefined;

/**
 * @medplum/core, loaded on first use: most threads of a server (export chunks, the main thread between imports)
 * never evaluate FHIRPath or a search, and each would otherwise hold the library's code and data in its heap.
 * Every module takes it from here, so a process loads one copy (and its one index of definitions).
 */
export function medplum(): Core {
  core ??= createRequire(import.meta.url)('@medplum/core') as Core;
  return core;
}
