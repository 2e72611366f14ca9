import { Command } from 'commander';
import cliProgress from 'cli-progress';
import { EXPORT_TYPES } from '../fhir/resource-types.js';
import { DEFAULT_BATCH_SIZE, importPaths } from '../import/importer.js';
import { commandConfig, openStoreFor, storeOptions } from './shared.js';

const number = new Intl.NumberFormat('en-US');

/**
 * The line naming the imported types no export ever writes ("stored, not exported: Claim 6,083, …"), or '' when
 * there are none. Group (which defines cohorts) and Binary (served behind attachment URLs) are used, not exported.
 */
export function notExportedLine(counts: Record<string, { created: number; updated: number; unchanged: number }>): string {
  const kept = Object.entries(counts)
    .filter(([type]) => !EXPORT_TYPES.includes(type) && type !== 'Group' && type !== 'Binary')
    .map(([type, c]) => [type, c.created + c.updated + c.unchanged] as const)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => a.localeCompare(b));
  if (kept.length === 0) return '';
  return `stored, not exported: ${kept.map(([type, n]) => `${type} ${number.format(n)}`).join(', ')} (flatfhir exports ${EXPORT_TYPES.length} types: see the README)\n`;
}

/** `flatfhir import --tenant T PATH…` */
export function importCommand(): Command {
  const cmd = new Command('import')
    .description('Import NDJSON files (.ndjson, .ndjson.gz), FHIR Bundles (.json) and directories of them into a tenant')
    .requiredOption('-t, --tenant <tenant>', 'the tenant to import into, created when new (1 to 64 letters, digits, "-" and ".")')
    .option('--batch-size <n>', 'resources per atomic batch (a batch also ends with each file)', String(DEFAULT_BATCH_SIZE))
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
        const notExported = notExportedLine(result.counts);
        if (notExported) out.write(notExported);
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
