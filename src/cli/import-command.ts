import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { importPaths } from '../import/importer.js';
import { commandConfig, openStoreFor, storeOptions } from './shared.js';

/** `flatfhir import --tenant T PATH…` */
export function importCommand(): Command {
  const cmd = new Command('import')
    .description('Import NDJSON files (.ndjson, .ndjson.gz), FHIR Bundles (.json) and directories of them into a tenant')
    .requiredOption('-t, --tenant <tenant>', 'tenant id')
    .option('--batch-size <n>', 'resources per atomic batch', '2000')
    .argument('<paths...>', 'files or directories')
    .addHelpText('after', '\nExample:\n  npx flatfhir import --tenant my-tenant test/fixtures/synthea-100/')
    .action(async (paths: string[], opts: { tenant: string; batchSize: string }) => {
      const config = commandConfig(cmd, { logLevel: 'silent' });
      const store = await openStoreFor(config);
      if (!(await store.tenants.getTenant(opts.tenant))) {
        // Kept for scripts written before `flatfhir tenant create`: the tenant is made without a name.
        process.stderr.write(`flatfhir: tenant ${opts.tenant} does not exist; the import creates it (name it with \`flatfhir tenant create\` first)\n`);
      }
      const bar =
        process.stderr.isTTY === true
          ? new cliProgress.SingleBar(
              { format: 'import [{bar}] {percentage}% | {resources} resources | {file}', stream: process.stderr },
              cliProgress.Presets.shades_classic,
            )
          : undefined;
      bar?.start(100, 0, { resources: 0, file: '' });
      const started = Date.now();
      try {
        const result = await importPaths({
          resources: store.resources,
          tenant: opts.tenant,
          paths,
          batchSize: Number(opts.batchSize),
          maxGroupMembers: config.export.maxGroupMembers,
          onProgress: (p) =>
            bar?.update(p.totalBytes ? Math.floor((p.bytes / p.totalBytes) * 100) : 0, {
              resources: p.resources,
              file: p.file.split('/').pop(),
            }),
        });
        bar?.update(100);
        bar?.stop();
        const seconds = (Date.now() - started) / 1000;
        const rows = Object.entries(result.counts).sort(([a], [b]) => a.localeCompare(b));
        const out = process.stdout;
        out.write(`${'type'.padEnd(24)}${'created'.padStart(10)}${'updated'.padStart(10)}${'unchanged'.padStart(11)}${'deleted'.padStart(9)}\n`);
        for (const [type, c] of rows) {
          out.write(`${type.padEnd(24)}${String(c.created).padStart(10)}${String(c.updated).padStart(10)}${String(c.unchanged).padStart(11)}${String(c.deleted).padStart(9)}\n`);
        }
        out.write(`${result.accepted} resources from ${result.files} files in ${seconds.toFixed(1)} s; ${result.rejectedCount} rejected\n`);
        for (const r of result.rejected) process.stderr.write(`rejected ${r.file}:${r.line}: ${r.message}\n`);
        if (result.rejectedCount > result.rejected.length) {
          process.stderr.write(`… and ${result.rejectedCount - result.rejected.length} more rejected\n`);
        }
        process.exitCode = result.rejectedCount > 0 ? 2 : 0;
      } finally {
        bar?.stop();
        await store.close();
      }
    });
  return storeOptions(cmd);
}
