import { Command } from 'commander';
import { rotateSigningKey } from '../auth/signing-keys.js';
import { commandConfig, openStoreFor, storeOptions } from './shared.js';

/**
 * `flatfhir keys rotate`: adds a new access-token signing key to the store's key set (PostgreSQL: shared by every
 * process; embedded: the data directory's); tokens signed by the old ones stay valid.
 */
export function keysCommand(): Command {
  const keys = new Command('keys').description('Manage the keys the server signs access tokens with');
  const rotate = keys
    .command('rotate')
    .description('Add a new signing key and sign with it from now on (running servers pick it up); older keys verify until their tokens expire')
    .addHelpText('after', '\nExample:\n  npx flatfhir keys rotate --database-url postgres://flatfhir@db/flatfhir')
    .action(async () => {
      const store = await openStoreFor(commandConfig(rotate));
      try {
        const { kid, retired } = await rotateSigningKey(store.keys);
        process.stdout.write(`${JSON.stringify({ kid, retired })}\n`);
      } finally {
        await store.close();
      }
    });
  storeOptions(rotate);
  return keys;
}
