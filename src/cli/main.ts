import { Command, Option } from 'commander';
import { type ConfigInput, loadConfig } from '../config/index.js';
import { clientCommand } from './client-command.js';
import { exportCommand } from './export-command.js';
import { generateCommand } from './generate-command.js';
import { importCommand } from './import-command.js';
import { keysCommand } from './keys-command.js';
import { tokenCommand } from './token-command.js';
import { storeOptions, openStoreFor } from './shared.js';

const program = new Command('flatfhir')
  .description('flatfhir: a FHIR Bulk Data Access server modelled on the Oracle Health (Cerner) Millennium bulk export API')
  .version('0.1.0')
  .showHelpAfterError();

const serve = new Command('serve')
  .description('Start the server (seeds the sandbox tenant on first start)')
  .addOption(new Option('-p, --port <port>', 'port to listen on (env PORT)'))
  .addOption(new Option('--host <host>', 'address to listen on (env FLATFHIR_HOST)'))
  .addOption(new Option('--public-url <url>', 'public origin clients use, e.g. behind a reverse proxy (env FLATFHIR_PUBLIC_BASE_URL)'))
  .addOption(new Option('--no-seed', 'do not seed the sandbox tenant'))
  .addOption(new Option('--log-level <level>', 'log level (env LOG_LEVEL)'))
  .action(async (opts: { port?: string; host?: string; publicUrl?: string; seed: boolean; logLevel?: string; data?: string; databaseUrl?: string }) => {
    const overrides: Record<string, unknown> = {};
    if (opts.port !== undefined) overrides['port'] = opts.port;
    if (opts.host !== undefined) overrides['host'] = opts.host;
    if (opts.publicUrl !== undefined) overrides['publicBaseUrl'] = opts.publicUrl;
    if (opts.logLevel !== undefined) overrides['logLevel'] = opts.logLevel;
    if (opts.data !== undefined) overrides['dataDir'] = opts.data;
    if (opts.databaseUrl !== undefined) overrides['databaseUrl'] = opts.databaseUrl;
    if (!opts.seed) overrides['seedSandbox'] = false;
    const { serve: start } = await import('../main.js');
    await start(loadConfig(overrides as ConfigInput));
  });
storeOptions(serve);

program.addCommand(serve, { isDefault: false });
program.addCommand(importCommand());
program.addCommand(generateCommand());
program.addCommand(tokenCommand());
program.addCommand(keysCommand());
program.addCommand(clientCommand((opts) => openStoreFor(opts)));
program.addCommand(exportCommand());

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`flatfhir: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
