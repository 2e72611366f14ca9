import { Command, Option } from 'commander';
import { loadConfig } from '../config/index.js';
import { clientCommand } from './client-command.js';
import { exportCommand } from './export-command.js';
import { generateCommand } from './generate-command.js';
import { groupCommand } from './group-command.js';
import { importCommand } from './import-command.js';
import { keysCommand } from './keys-command.js';
import { openManagement } from './manage-open.js';
import { tokenCommand } from './token-command.js';
import { commandConfig, configFlags, openStoreFor } from './shared.js';
import { tenantCommand } from './tenant-command.js';

const program = new Command('flatfhir')
  .description('flatfhir: a FHIR Bulk Data Access server modelled on the Oracle Health (Cerner) Millennium bulk export API')
  .version('0.1.0')
  .showHelpAfterError();

const serve = new Command('serve')
  .description('Start the server (seeds the sandbox tenant on first start)')
  .addOption(new Option('--no-seed', 'do not seed the sandbox tenant'))
  .addOption(new Option('--no-workers', 'an API node only: run no export chunks here (`flatfhir worker` processes run them)'))
  .action(async (opts: { seed: boolean; workers: boolean }) => {
    const config = commandConfig(serve, { ...(opts.seed ? {} : { seedSandbox: false }), ...(opts.workers ? {} : { export: { workers: false } }) });
    const { serve: start } = await import('../main.js');
    await start(config);
  });
configFlags(serve, ['port', 'host', 'publicBaseUrl', 'trustedProxies', 'logLevel', 'dataDir', 'databaseUrl', 'tls.cert', 'tls.key', 'monitoring.host', 'monitoring.port', 'storage.url', 'storage.s3.endpoint', 'storage.s3.region', 'storage.s3.forcePathStyle']);

const worker = new Command('worker')
  .description('Run an export worker node: takes export chunks from the PostgreSQL queue, no HTTP API (any number of them)')
  .addHelpText('after', '\nExample:\n  flatfhir worker --database-url postgres://flatfhir@db/flatfhir --data /srv/flatfhir')
  .action(async () => {
    const config = commandConfig(worker);
    if (!config.databaseUrl) throw new Error('flatfhir worker needs a PostgreSQL store shared with the API nodes: give --database-url (or FLATFHIR_DATABASE_URL).');
    const { runWorker } = await import('../main.js');
    await runWorker(config);
  });
configFlags(worker, ['logLevel', 'dataDir', 'databaseUrl', 'monitoring.host', 'monitoring.port', 'storage.url', 'storage.s3.endpoint', 'storage.s3.region', 'storage.s3.forcePathStyle']);

program.addCommand(serve, { isDefault: false });
program.addCommand(worker);
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
program.addCommand(tenantCommand(openManagement));
program.addCommand(groupCommand(openManagement));

program.parseAsync(process.argv).catch((e: unknown) => {
  process.stderr.write(`flatfhir: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
