import { readFile } from 'node:fs/promises';
import { Command } from 'commander';
import { clientView, RegistrationError, registerClient } from '../auth/client-registry.js';
import { clientActivity } from '../manage/audit.js';
import { toNewAuditEvent } from '../manage/audit-trail.js';
import type { AuditStore, ClientStore, RegisteredClient } from '../store/ports.js';

export interface ClientStoreOptions {
  /** `--data DIR` */
  data?: string;
  /** `--database-url URL` */
  databaseUrl?: string;
}

export type OpenClientStore = (opts: ClientStoreOptions) => Promise<{ clients: ClientStore; audit?: AuditStore; close(): Promise<void> }>;

export interface ClientCommandIo {
  /** Where results (JSON) go; defaults to stdout. */
  stdout?: { write(text: string): unknown };
}

/**
 * `flatfhir client …`: the client registry (the vendor's "code Console") on the command line.
 *
 *   flatfhir client register --tenant T (--jwks-file F | --jwks-url U) --scope "system/*.rs" [--name N]
 *   flatfhir client list [--tenant T]
 *   flatfhir client show|disable|enable|remove <client-id>
 *
 * Every subcommand prints JSON. Failures (invalid input, unknown client) reject `parseAsync` with an Error whose
 * message is meant for the user; the caller prints it and exits non-zero.
 */
export function clientCommand(openStore: OpenClientStore, io: ClientCommandIo = {}): Command {
  const out = io.stdout ?? process.stdout;
  const print = (value: unknown): void => {
    out.write(`${JSON.stringify(value, null, 2)}\n`);
  };

  /** Records a change in the audit trail, as made from the command line. */
  const record = async (audit: AuditStore | undefined, verb: string, c: RegisteredClient, detail?: string): Promise<void> => {
    await audit?.append([
      toNewAuditEvent(
        { action: `admin.client.${verb}`, outcome: 'success', tenant: c.tenant, clientId: c.clientId, source: 'cli', request: `flatfhir client ${verb}`, ...(detail ? { detail } : {}) },
        Date.now(),
      ),
    ]);
  };

  const client = new Command('client')
    .description('Register and manage SMART Backend Services clients (system applications)')
    .option('--data <dir>', 'data directory (embedded SQLite store)')
    .option('--database-url <url>', 'PostgreSQL connection URL (instead of the embedded store)');

  const withStore = async <T>(cmd: Command, fn: (clients: ClientStore, audit: AuditStore | undefined) => Promise<T>): Promise<T> => {
    const g = cmd.optsWithGlobals<ClientStoreOptions>();
    const opts: ClientStoreOptions = {};
    if (g.data !== undefined) opts.data = g.data;
    if (g.databaseUrl !== undefined) opts.databaseUrl = g.databaseUrl;
    const store = await openStore(opts);
    try {
      return await fn(store.clients, store.audit);
    } finally {
      await store.close();
    }
  };

  client
    .command('register')
    .description('Register a system application for a tenant; prints it with its client_id')
    .requiredOption('--tenant <tenant>', 'the tenant (FHIR base /r4/<tenant>)')
    .requiredOption('--scope <scopes>', 'pre-authorized read scopes, space separated, e.g. "system/*.rs"')
    .option('--jwks-file <file>', 'a JSON file holding the public JWK Set')
    .option('--jwks-url <url>', 'the URL of the public JWK Set (fetched when needed)')
    .option('--name <name>', 'a display name')
    .action(async (options: { tenant: string; scope: string; jwksFile?: string; jwksUrl?: string; name?: string }, cmd: Command) => {
      if ((options.jwksFile === undefined) === (options.jwksUrl === undefined)) {
        throw new Error('Give exactly one of --jwks-file and --jwks-url.');
      }
      let jwks: unknown;
      if (options.jwksFile !== undefined) {
        let text: string;
        try {
          text = await readFile(options.jwksFile, 'utf8');
        } catch (e) {
          throw new Error(`Cannot read ${options.jwksFile}: ${(e as Error).message}`);
        }
        try {
          jwks = JSON.parse(text);
        } catch {
          throw new Error(`${options.jwksFile} is not JSON.`);
        }
        // A single public JWK is accepted as a one-key set.
        if (jwks && typeof jwks === 'object' && !Array.isArray(jwks) && !('keys' in jwks) && 'kty' in jwks) jwks = { keys: [jwks] };
      }
      await withStore(cmd, async (clients, audit) => {
        try {
          const registered = await registerClient(clients, {
            tenant: options.tenant,
            scope: options.scope,
            name: options.name,
            jwks,
            jwksUrl: options.jwksUrl,
          });
          await record(audit, 'register', registered, `scope ${registered.scope}`);
          print(clientView(registered));
        } catch (e) {
          if (e instanceof RegistrationError) throw new Error(`Registration refused: ${e.message}`);
          throw e;
        }
      });
    });

  client
    .command('list')
    .description('List registered clients')
    .option('--tenant <tenant>', 'only this tenant')
    .action(async (options: { tenant?: string }, cmd: Command) => {
      await withStore(cmd, async (clients) => print((await clients.listClients(options.tenant)).map(clientView)));
    });

  client
    .command('show')
    .description('Show one client, with its activity: last token issued, last export, failed authentications in the last hour')
    .argument('<client-id>')
    .action(async (id: string, _options: unknown, cmd: Command) => {
      await withStore(cmd, async (clients, audit) => {
        const c = await clients.getClient(id);
        if (!c) throw new Error(`No client ${id}.`);
        print({ ...clientView(c), ...(audit ? { activity: await clientActivity(audit, id, Date.now()) } : {}) });
      });
    });

  for (const action of ['disable', 'enable'] as const) {
    client
      .command(action)
      .description(
        action === 'disable'
          ? 'Disable a client: it gets no new tokens, and the tokens it holds are refused from now on (within auth.revocationCacheMs)'
          : 'Enable a disabled client (the tokens revoked when it was disabled stay revoked)',
      )
      .argument('<client-id>')
      .action(async (id: string, _options: unknown, cmd: Command) => {
        await withStore(cmd, async (clients, audit) => {
          if (!(await clients.setClientDisabled(id, action === 'disable'))) throw new Error(`No client ${id}.`);
          const c = await clients.getClient(id);
          if (!c) throw new Error(`No client ${id}.`);
          await record(audit, action, c);
          print(clientView(c));
        });
      });
  }

  client
    .command('remove')
    .description('Remove a client (its tokens are refused from now on)')
    .argument('<client-id>')
    .action(async (id: string, _options: unknown, cmd: Command) => {
      await withStore(cmd, async (clients, audit) => {
        const c = await clients.getClient(id);
        if (!c || !(await clients.removeClient(id))) throw new Error(`No client ${id}.`);
        await record(audit, 'remove', c);
        print({ client_id: id, removed: true });
      });
    });

  return client;
}
