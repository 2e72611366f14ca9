import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { manageCommand, type ManageIo, type OpenManagement, printer, withManagement } from './manage-shared.js';

const collect = (value: string, previous: string[] = []): string[] => [...previous, ...value.split(',').filter((v) => v !== '')];

/** Patient ids from `--patient` (repeatable, comma-separated) and `--patients-file` (one a line; `#` comments). */
async function patientsOf(o: { patient?: string[]; patientsFile?: string }): Promise<string[] | undefined> {
  if (o.patient === undefined && o.patientsFile === undefined) return undefined;
  const ids = [...(o.patient ?? [])];
  if (o.patientsFile !== undefined) {
    let text: string;
    try {
      text = await readFile(o.patientsFile, 'utf8');
    } catch (e) {
      throw new Error(`Cannot read ${o.patientsFile}: ${(e as Error).message}`);
    }
    for (const line of text.split(/\r?\n/)) {
      const id = line.replace(/#.*/, '').trim();
      if (id !== '') ids.push(id);
    }
  }
  return ids;
}

/**
 * `flatfhir group …` (every subcommand takes `--tenant T`):
 *
 *   flatfhir group create --name N (--patient ID … | --patients-file F | --from-search 'Patient?…' | --member-filter 'Encounter?…' …)
 *   flatfhir group add-members|remove-members|set-inactive <id> (--patient ID … | --patients-file F)
 *   flatfhir group list
 *   flatfhir group show <id> [--as-of JOB]
 *   flatfhir group remove <id>
 *
 * On the store (`--data`, `--database-url`) or a running server (`--server URL --admin-token T`). Prints JSON.
 */
export function groupCommand(open: OpenManagement, io: ManageIo = {}): Command {
  const print = printer(io);
  const group = manageCommand('group', 'Create and manage groups of patients (static lists or dynamic criteria)');
  const members = (cmd: Command): Command =>
    cmd
      .requiredOption('--tenant <tenant>', 'the tenant')
      .option('--patient <id>', 'a patient id (repeatable, or comma-separated)', collect)
      .option('--patients-file <file>', 'a file of patient ids, one a line');

  members(group.command('create'))
    .description('Create a group: listed patients, a snapshot of a search, or dynamic member-filter criteria')
    .requiredOption('--name <name>', 'the group name (clients find groups by it: GET [base]/Group?name=)')
    .option('--id <id>', 'the Group id (default: a new UUID)')
    .option('--identifier <system|value>', 'a business identifier')
    .option('--from-search <search>', "a static group of the patients a search matches now, e.g. 'Patient?gender=female'")
    .option('--member-filter <criteria>', "a dynamic group: criteria evaluated at each export's kick-off (repeatable; all must match), e.g. 'Encounter?date=ge-7d'", (v: string, p: string[] = []) => [...p, v])
    .action(async (o: { tenant: string; name: string; id?: string; identifier?: string; patient?: string[]; patientsFile?: string; fromSearch?: string; memberFilter?: string[] }, cmd: Command) => {
      const patients = await patientsOf(o);
      print(
        await withManagement(cmd, open, (m) =>
          m.groups.create({
            tenant: o.tenant,
            name: o.name,
            ...(o.id !== undefined ? { id: o.id } : {}),
            ...(o.identifier !== undefined ? { identifier: o.identifier } : {}),
            ...(patients !== undefined ? { patients } : {}),
            ...(o.fromSearch !== undefined ? { fromSearch: o.fromSearch } : {}),
            ...(o.memberFilter !== undefined ? { memberFilter: o.memberFilter } : {}),
          }),
        ),
      );
    });

  const change = (name: string, description: string, fn: (m: Parameters<Parameters<typeof withManagement>[2]>[0], tenant: string, id: string, ids: string[], o: { active?: boolean }) => Promise<unknown>): void => {
    const c = members(group.command(name)).description(description).argument('<id>', 'the Group id');
    if (name === 'set-inactive') c.option('--active', 'make the members active again instead');
    c.action(async (id: string, o: { tenant: string; patient?: string[]; patientsFile?: string; active?: boolean }, cmd: Command) => {
      const ids = await patientsOf(o);
      if (!ids || ids.length === 0) throw new Error('Give the patients: --patient ID … or --patients-file F.');
      print(await withManagement(cmd, open, (m) => fn(m, o.tenant, id, ids, o)));
    });
  };
  change('add-members', 'Add patients to a static group (period.start is set to now)', (m, t, id, ids) => m.groups.addMembers(t, id, ids));
  change('remove-members', 'Remove patients from a static group', (m, t, id, ids) => m.groups.removeMembers(t, id, ids));
  change('set-inactive', 'Mark members inactive (they stay listed, are not exported); --active undoes it', (m, t, id, ids, o) => m.groups.setInactive(t, id, ids, o.active !== true));

  group
    .command('list')
    .description('List the groups of a tenant')
    .requiredOption('--tenant <tenant>', 'the tenant')
    .action(async (o: { tenant: string }, cmd: Command) => print(await withManagement(cmd, open, (m) => m.groups.list(o.tenant))));

  group
    .command('show')
    .description('Show a group with its members (period, inactive); a dynamic group evaluated now, or as of an export job')
    .argument('<id>', 'the Group id')
    .requiredOption('--tenant <tenant>', 'the tenant')
    .option('--as-of <job>', 'the members an export job used')
    .action(async (id: string, o: { tenant: string; asOf?: string }, cmd: Command) => {
      print(await withManagement(cmd, open, (m) => m.groups.show(o.tenant, id, o.asOf !== undefined ? { asOfJob: o.asOf } : {})));
    });

  group
    .command('remove')
    .description('Remove a group')
    .argument('<id>', 'the Group id')
    .requiredOption('--tenant <tenant>', 'the tenant')
    .action(async (id: string, o: { tenant: string }, cmd: Command) => print(await withManagement(cmd, open, (m) => m.groups.remove(o.tenant, id))));

  return group;
}
