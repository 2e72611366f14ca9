import { Command } from 'commander';
import { rotateSigningKey } from '../auth/signing-keys.js';
import { commandConfig, configFlags } from './shared.js';

/** `flatfhir keys rotate`: adds a new access-token signing key; tokens signed by the old ones stay valid. */
export function keysCommand(): Command {
  const keys = new Command('keys').description('Manage the keys the server signs access tokens with');
  const rotate = keys
    .command('rotate')
    .description('Add a new signing key and sign with it from now on (running servers pick it up); older keys verify until their tokens expire')
    .action(async () => {
      const { kid, retired } = await rotateSigningKey(commandConfig(rotate).dataDir);
      process.stdout.write(`${JSON.stringify({ kid, retired })}\n`);
    });
  configFlags(rotate, ['dataDir']);
  return keys;
}
