import { Command, Option } from 'commander';
import { loadConfig, publicOrigin } from '../config/index.js';
import { auditCommand } from './audit-command.js';
import { clientCommand } from './client-command.js';
import { exportCommand } from './export-command.js';
import { generateCommand } from './generate-command.js';
import { importCommand } from './import-command.js';
import { jobsCommand } from './jobs-command.js';
import { keysCommand } from './keys-command.js';
import { openManagement } from './manage-open.js';
import { tokenCommand } from './token-command.js';
import { viewCommand } from './view-command.js';
import { commandConfig, configFlags, markRequired, openStoreFor, ReportedError } from './shared.js';
import { tenantCommand } from './tenant-command.js';

const program = new Command('flatfhir')
  .description('flatfhir: a FHIR Bulk Data Access server modelled on the Oracle Health (Cerner) Millennium bulk export API')
  .version('0.1.0')
  .showHelpAfterError();

const serve = new Command('serve')
  .description('Start the server (seeds the sandbox tenant on first start)')
  .addOption(new Option('--no-seed', 'do not seed the sandbox tenant'))
  .addOption(new Option('--no-workers', 'an API node only: run no export chunks here (`flatfhir worker` processes run them)'))
  .addHelpText('after', '\nExamples:\n  npm start                                   # the same as: flatfhir serve\n  npx flatfhir serve --port 9000 --data /srv/flatfhir --no-seed')
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
  clientCommand(async (opts) => {
    const config = loadConfig({ ...(opts.data !== undefined ? { dataDir: opts.data } : {}), ...(opts.databaseUrl !== undefined ? { databaseUrl: opts.databaseUrl } : {}) });
    const store = await openStoreFor(config);
    return {
      clients: store.clients,
      audit: store.audit,
      tenants: () => store.resources.listTenants(),
      fhirBase: (tenant: string) => `${publicOrigin(config)}/r4/${tenant}`,
      close: () => store.close(),
    };
  }),
);
program.addCommand(exportCommand());
program.addCommand(viewCommand());
program.addCommand(tenantCommand(openManagement));
program.addCommand(jobsCommand());
program.addCommand(auditCommand());
markRequired(program);

program.parseAsync(process.argv).catch((e: unknown) => {
  // Shown once: an error the command's view already printed is not printed again.
  if (!(e instanceof ReportedError)) process.stderr.write(`flatfhir: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
