/** Writes docs/configuration.md from the configuration schema. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configReference } from '../src/config/reference.js';

writeFileSync(join(import.meta.dirname, '..', 'docs', 'configuration.md'), configReference());
