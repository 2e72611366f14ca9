import type { Command } from 'commander';
import { manageCommand, type ManageIo, type OpenManagement, printer, withManagement } from './manage-shared.js';

/**
 * `flatfhir tenant …`:
 *
 *   flatfhir tenant create <id> [--name N]
 *   flatfhir tenant list
 *   flatfhir tenant show <id>            (with counts: resources per type, groups, clients, jobs)
 *   flatfhir tenant remove <id> --force  (removes its data, clients, jobs and files)
 *
 * On the store (`--data`, `--database-url`) or a running server (`--server URL --admin-token T`). Prints JSON.
 */
export function tenantCommand(open: OpenManagement, io: ManageIo = {}): Command {
  const print = printer(io);
  const tenant = manageCommand('tenant', 'Create, list, show and remove tenants');

  tenant
    .command('create')
    .description('Create a tenant (its FHIR base is /r4/<id>)')
    .argument('<id>', '1 to 64 letters, digits, "-" and "."')
    .option('--name <name>', 'a display name')
    .action(async (id: string, o: { name?: string }, cmd: Command) => {
      print(await withManagement(cmd, open, (m) => m.tenants.create({ id, ...(o.name !== undefined ? { name: o.name } : {}) })));
    });

  tenant
    .command('list')
    .description('List tenants')
    .action(async (_o: unknown, cmd: Command) => print(await withManagement(cmd, open, (m) => m.tenants.list())));

  tenant
    .command('show')
    .description('Show a tenant with its counts (resources per type, groups, clients, jobs)')
    .argument('<id>')
    .action(async (id: string, _o: unknown, cmd: Command) => print(await withManagement(cmd, open, (m) => m.tenants.show(id))));

  tenant
    .command('remove')
    .description('Remove a tenant with all its data, clients, jobs and files (needs --force)')
    .argument('<id>')
    .option('--force', 'confirm the removal')
    .action(async (id: string, o: { force?: boolean }, cmd: Command) => {
      print(await withManagement(cmd, open, (m) => m.tenants.remove(id, { force: o.force === true })));
    });

  return tenant;
}
