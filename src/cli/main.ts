import { Command, Option } from 'commander';
import { loadConfig } from '../config/index.js';
import { clientCommand } from './client-command.js';
import { exportCommand } from './export-command.js';
import { generateCommand } from './generate-command.js';
import { importCommand } from './import-command.js';
import { keysCommand } from './keys-command.js';
import { tokenCommand } from './token-command.js';
import { commandConfig, configFlags, openStoreFor } from './shared.js';

const program = new Command('flatfhir')
  .description('flatfhir: a FHIR Bulk Data Access server modelled on the Oracle Health (Cerner) Millennium bulk export API')
  .version('0.1.0')
  .showHelpAfterError();

const serve = new Command('serve')
  .description('Start the server (seeds the sandbox tenant on first start)')
  .addOption(new Option('--no-seed', 'do not seed the sandbox tenant'))
  .action(async (opts: { seed: boolean }) => {
    const config = commandConfig(serve, opts.seed ? {} : { seedSandbox: false });
    const { serve: start } = await import('../main.js');
    await start(config);
  });
configFlags(serve, ['port', 'host', 'publicBaseUrl', 'trustedProxies', 'logLevel', 'dataDir', 'databaseUrl']);

program.addCommand(serve, { isDefault: false });
program.addCommand(importCommand());
program.addCommand(generateCommand());
program.addCommand(tokenCommand());
program.addCommand(keysCommand());
program.addCommand(
  clientCommand((opts) =>
    openStoreFor(loadConfig({ ...(opts.data !== undefined ? { dataDir: opts.data } : {}), ...(opts.databaseUrl !== undefined ? { databaseUrl: opts.databaseUrl } : {}) })),
  ),
);
program.addCommand(exportCommand());

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`flatfhir: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
