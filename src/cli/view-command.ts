import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { FhirError } from '../fhir/errors.js';
import type { Store } from '../store/ports.js';
import { libraryView, loadView, saveView, storedDefinition } from '../views/catalog.js';
import { compileView, type CompiledView } from '../views/evaluate.js';
import { LIBRARY_VIEWS } from '../views/library.js';
import { activeMembers } from '../fhir/group.js';
import { writeViewFile } from '../views/parallel.js';
import { ndjsonRows } from '../views/sources.js';
import { EXTENSIONS, FLAT_FORMATS, type FlatFormat, writeRowsToFile } from '../views/writers.js';
import { commandConfig, openStoreFor, storeOptions } from './shared.js';

const describe = (e: unknown): string => (e instanceof FhirError || e instanceof Error ? e.message : String(e));

/** A view given as a file, a shipped view's name, or (with a store) a view the tenant stored. */
async function findView(spec: string, store: Store | undefined, tenant: string | undefined): Promise<CompiledView> {
  if (existsSync(spec)) return compileView(JSON.parse(readFileSync(spec, 'utf8')) as unknown);
  if (store && tenant) {
    const stored = await store.views.getView(tenant, spec);
    if (stored) return compileView(storedDefinition(stored));
  }
  const shipped = libraryView(spec);
  if (shipped) return compileView(shipped);
  throw new Error(`--view ${spec}: no such file${tenant ? `, no view of tenant ${tenant}` : ''}, and no shipped view of that name`);
}

async function withStore<T>(cmd: Command, run: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStoreFor(commandConfig(cmd, { logLevel: 'silent' }));
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/** `flatfhir view run|add|list|show|remove`: SQL on FHIR ViewDefinitions, run locally or stored per tenant. */
export function viewCommand(): Command {
  const view = new Command('view').description('SQL on FHIR ViewDefinitions: run them into CSV, Parquet, NDJSON or JSON; store them per tenant');

  const run = new Command('run')
    .description('Run a view over a tenant of the store (optionally one Group) or over NDJSON files, into a file in --out')
    .requiredOption('--view <view>', 'ViewDefinition JSON file, a shipped view name, or a view stored for --tenant')
    .option('-t, --tenant <tenant>', 'read the resources of this tenant (at a snapshot taken now)')
    .option('-g, --group <id>', 'with --tenant: only the Patient compartments of this Group\'s members')
    .option('-i, --input <files...>', 'NDJSON files (.ndjson, .ndjson.gz) to read instead of the store')
    .addOption(new Option('-f, --format <format>', 'output format').choices([...FLAT_FORMATS]).default('csv'))
    .option('--no-header', 'CSV without its header row')
    .requiredOption('-o, --out <dir>', 'output folder (created, 0700); the file is <view name>.<format>')
    .action(async (opts: { view: string; tenant?: string; group?: string; input?: string[]; format: FlatFormat; header: boolean; out: string }) => {
      if ((opts.tenant === undefined) === (opts.input === undefined)) throw new Error('give either --tenant or --input');
      if (opts.group !== undefined && opts.tenant === undefined) throw new Error('--group needs --tenant');
      mkdirSync(opts.out, { recursive: true, mode: 0o700 });
      const started = Date.now();
      let resources = 0;
      const report = (compiled: CompiledView, path: string, result: { rows: number }): void => {
        const seconds = (Date.now() - started) / 1000;
        process.stdout.write(`${path}: ${result.rows} rows (view over ${compiled.resource}) from ${resources} resources read in ${seconds.toFixed(1)} s\n`);
      };
      const fileFor = (compiled: CompiledView): string => {
        const name = compiled.definition.name && /^[A-Za-z0-9_\-.]+$/.test(compiled.definition.name) ? compiled.definition.name : 'view';
        return join(opts.out, `${name}.${EXTENSIONS[opts.format]}`);
      };
      const write = async (compiled: CompiledView, batches: AsyncIterable<unknown[][]>): Promise<void> => {
        const path = fileFor(compiled);
        report(compiled, path, await writeRowsToFile(opts.format, compiled.columns, batches, path, { header: opts.header }));
      };
      try {
        if (opts.input) {
          const compiled = await findView(opts.view, undefined, undefined);
          await write(compiled, ndjsonRows(compiled, opts.input, (n) => (resources += n)));
        } else {
          const config = commandConfig(run, { logLevel: 'silent' });
          await withStore(run, async (store) => {
            const tenant = opts.tenant as string;
            const compiled = await findView(opts.view, store, tenant);
            const until = await store.resources.snapshotTime(tenant);
            let members: string[] | undefined;
            if (opts.group !== undefined) {
              const group = await store.resources.readAt(tenant, 'Group', opts.group, until);
              if (!group || group.deleted || !group.json) throw new Error(`Group/${opts.group} was not found.`);
              members = activeMembers(JSON.parse(group.json) as object, until).map((m) => m.patientId);
            }
            const path = fileFor(compiled);
            const result = await writeViewFile(compiled, opts.format, store.resources.scan({ tenant, type: compiled.resource, until }), path, {
              threads: config.views.threads,
              header: opts.header,
              memoryLimit: config.views.duckdbMemoryLimit,
              ...(members ? { members } : {}),
              onResources: (n) => (resources += n),
            });
            report(compiled, path, result);
          });
        }
      } catch (e) {
        throw new Error(describe(e));
      }
    });
  storeOptions(run);

  const add = new Command('add')
    .description('Store ViewDefinitions for a tenant (replacing views of the same name); --library stores the shipped views')
    .requiredOption('-t, --tenant <tenant>', 'tenant id')
    .option('--name <name>', 'store the (single) view under this name instead of its own name')
    .option('--library', 'store every view shipped with flatfhir')
    .argument('[files...]', 'ViewDefinition JSON files')
    .action(async (files: string[], opts: { tenant: string; name?: string; library?: boolean }) => {
      const inputs: { source: string; definition: unknown }[] = files.map((f) => ({ source: f, definition: JSON.parse(readFileSync(f, 'utf8')) as unknown }));
      if (opts.library) for (const v of LIBRARY_VIEWS) inputs.push({ source: `library:${v.name}`, definition: v });
      if (inputs.length === 0) throw new Error('give ViewDefinition files or --library');
      if (opts.name !== undefined && inputs.length > 1) throw new Error('--name applies to a single view');
      await withStore(add, async (store) => {
        for (const i of inputs) {
          try {
            const { view: v, created } = await saveView(store.views, opts.tenant, i.definition, {
              now: Date.now(),
              ...(opts.name !== undefined ? { name: opts.name } : {}),
            });
            process.stdout.write(`${created ? 'added' : 'replaced'} ${v.name} (${v.resource}) from ${i.source}\n`);
          } catch (e) {
            throw new Error(`${i.source}: ${describe(e)}`);
          }
        }
      });
    });
  storeOptions(add);

  const list = new Command('list')
    .description("List a tenant's stored views (or, with --library, the shipped ones)")
    .option('-t, --tenant <tenant>', 'tenant id')
    .option('--library', 'list the views shipped with flatfhir')
    .action(async (opts: { tenant?: string; library?: boolean }) => {
      const out = process.stdout;
      if (opts.library) {
        for (const v of LIBRARY_VIEWS) out.write(`${(v.name ?? '').padEnd(24)}${v.resource.padEnd(20)}${v.url ?? ''}\n`);
        return;
      }
      if (!opts.tenant) throw new Error('give --tenant (or --library)');
      await withStore(list, async (store) => {
        const views = await store.views.listViews(opts.tenant as string);
        out.write(`${'name'.padEnd(24)}${'resource'.padEnd(20)}${'updated'.padEnd(26)}url\n`);
        for (const v of views) out.write(`${v.name.padEnd(24)}${v.resource.padEnd(20)}${new Date(v.updatedAt).toISOString().padEnd(26)}${v.url ?? ''}\n`);
      });
    });
  storeOptions(list);

  const show = new Command('show')
    .description('Print a stored view (ViewDefinition JSON)')
    .requiredOption('-t, --tenant <tenant>', 'tenant id')
    .argument('<name>', 'view name')
    .action(async (name: string, opts: { tenant: string }) => {
      await withStore(show, async (store) => {
        const compiled = await loadView(store.views, opts.tenant, name).catch((e: unknown) => {
          throw new Error(describe(e));
        });
        process.stdout.write(`${JSON.stringify(compiled.definition, null, 2)}\n`);
      });
    });
  storeOptions(show);

  const remove = new Command('remove')
    .description('Remove a stored view')
    .requiredOption('-t, --tenant <tenant>', 'tenant id')
    .argument('<name>', 'view name')
    .action(async (name: string, opts: { tenant: string }) => {
      await withStore(remove, async (store) => {
        if (!(await store.views.removeView(opts.tenant, name))) throw new Error(`tenant ${opts.tenant} has no view ${name}`);
        process.stdout.write(`removed ${name}\n`);
      });
    });
  storeOptions(remove);

  return view.addCommand(run).addCommand(add).addCommand(list).addCommand(show).addCommand(remove);
}
