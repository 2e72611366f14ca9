import { Command, Option } from 'commander';
import { rotateSigningKey } from '../auth/signing-keys.js';
import { configFor } from './shared.js';

/** `flatfhir keys rotate`: adds a new access-token signing key; tokens signed by the old ones stay valid. */
export function keysCommand(): Command {
  const keys = new Command('keys').description('Manage the keys the server signs access tokens with');
  keys
    .command('rotate')
    .description('Add a new signing key and sign with it from now on (running servers pick it up); older keys verify until their tokens expire')
    .addOption(new Option('-d, --data <dir>', 'data directory (env FLATFHIR_DATA)'))
    .action(async (opts: { data?: string }) => {
      const { kid, retired } = await rotateSigningKey(configFor(opts).dataDir);
      process.stdout.write(`${JSON.stringify({ kid, retired })}\n`);
    });
  return keys;
}
