import { chmod, readFile, writeFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import type { JWK } from 'jose';
import { clientView, RegistrationError, registerClient } from '../auth/client-registry.js';
import { generateClientKeyPair, jwksOfKeyFile, KEY_FORMATS, KeyFileError } from '../client/keys.js';
import { isValidTenantId, TENANT_ID_RULE } from '../fhir/ids.js';
import { clientActivity } from '../manage/audit.js';
import { toNewAuditEvent } from '../manage/audit-trail.js';
import type { AuditStore, ClientStore, RegisteredClient } from '../store/ports.js';
import type { ClientFile } from './credentials.js';
import { configOption } from './shared.js';
import { formatTable } from './table.js';

export interface ClientStoreOptions {
  /** `--data DIR` */
  data?: string;
  /** `--database-url URL` */
  databaseUrl?: string;
}

/** What the client commands need of a store: its clients, the tenants it has, and the FHIR base URL of a tenant. */
export interface OpenedClientStore {
  clients: ClientStore;
  tenants(): Promise<string[]>;
  /** The FHIR base URL clients of `tenant` use (the configured public origin), for client files. */
  fhirBase?(tenant: string): string;
  /** Where changes are recorded and a client's activity is read (absent: neither). */
  audit?: AuditStore;
  close(): Promise<void>;
}

export type OpenClientStore = (opts: ClientStoreOptions) => Promise<OpenedClientStore>;

export interface ClientCommandIo {
  /** Where results go; defaults to stdout. */
  stdout?: { write(text: string): unknown };
}

interface RegisterOptions {
  tenant: string;
  scope: string;
  jwksFile?: string;
  jwksUrl?: string;
  generateKey?: boolean;
  alg: 'ES384' | 'RS384';
  clientFileOut?: string;
  fhirUrl?: string;
  name?: string;
}

const clientRow = (c: RegisteredClient): string[] => [
  c.clientId,
  c.name === '' ? '-' : c.name,
  c.tenant,
  c.scope,
  c.disabled ? 'disabled' : 'enabled',
  new Date(c.createdAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
];

async function writeClientFile(file: string, content: ClientFile): Promise<void> {
  await writeFile(file, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  await chmod(file, 0o600); // an existing file keeps its mode on write
}

/** The JWK Set to register from --jwks-file, and the private key the file holds, if any. */
async function keysFromFile(file: string): Promise<{ jwks: unknown; privateJwk?: JWK }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`Cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return await jwksOfKeyFile(text, file);
  } catch (e) {
    if (e instanceof KeyFileError) throw new Error(e.message);
    throw e;
  }
}

/**
 * `flatfhir client …`: the client registry (the vendor's "code Console") on the command line.
 *
 *   flatfhir client register --tenant T (--jwks-file F | --jwks-url U | --generate-key) --scope "system/*.rs" [--name N]
 *                            [--client-file-out F]
 *   flatfhir client list [--tenant T] [--json]
 *   flatfhir client show|disable|enable|remove <client-id>
 *
 * `list` prints a table (JSON with --json); the other subcommands print JSON. Failures (invalid input, unknown
 * client or tenant) reject `parseAsync` with an Error whose message is meant for the user; the caller prints it
 * and exits non-zero.
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
    .configureHelp({ showGlobalOptions: true })
    .addOption(configOption('dataDir'))
    .addOption(configOption('databaseUrl'))
    .addHelpText('after', '\nExample:\n  npx flatfhir client register --tenant my-tenant --generate-key --scope "system/*.rs" --client-file-out my-client.json');

  const withStore = async <T>(cmd: Command, fn: (store: OpenedClientStore) => Promise<T>): Promise<T> => {
    const g = cmd.optsWithGlobals<ClientStoreOptions>();
    const opts: ClientStoreOptions = {};
    if (g.data !== undefined) opts.data = g.data;
    if (g.databaseUrl !== undefined) opts.databaseUrl = g.databaseUrl;
    const store = await openStore(opts);
    try {
      return await fn(store);
    } finally {
      await store.close();
    }
  };

  /** Refuses a tenant id that breaks the rule or that the store does not have. */
  const knownTenant = async (store: OpenedClientStore, tenant: string): Promise<void> => {
    if (!isValidTenantId(tenant)) throw new Error(`${JSON.stringify(tenant)} is not a valid tenant id: ${TENANT_ID_RULE}.`);
    const tenants = await store.tenants();
    if (!tenants.includes(tenant)) {
      throw new Error(
        `There is no tenant ${tenant} in this store (${tenants.length ? `it has ${tenants.join(', ')}` : 'it has none'}). ` +
          'A tenant is created by importing data into it: flatfhir import --tenant T PATH…',
      );
    }
  };

  client
    .command('register')
    .description('Register a system application for a tenant; prints it with its client_id')
    .requiredOption('--tenant <tenant>', 'the tenant (FHIR base /r4/<tenant>); it must exist (import data into it first)')
    .requiredOption('--scope <scopes>', 'pre-authorized scopes, space separated, e.g. "system/*.rs" (add "system/Group.cd" to create and delete cohorts)')
    .option('--jwks-file <file>', `the client's public key(s): ${KEY_FORMATS}`)
    .option('--jwks-url <url>', 'the URL of the public JWK Set (fetched when needed)')
    .option('--generate-key', 'make a new key pair: registers the public key, writes the private one to --client-file-out')
    .addOption(new Option('--alg <alg>', 'the algorithm of --generate-key').choices(['ES384', 'RS384']).default('ES384'))
    .option('--client-file-out <file>', 'write the client file `flatfhir token` and `flatfhir export` take (mode 0600; holds the private key)')
    .option('--fhir-url <url>', 'the FHIR base URL to put in the client file (default: the configured public origin + /r4/<tenant>)')
    .option('--name <name>', 'a display name')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  npx flatfhir client register --tenant my-tenant --generate-key --scope "system/*.rs" --client-file-out my-client.json\n' +
        '  npx flatfhir client register --tenant my-tenant --jwks-file public.pem --scope "system/*.rs" --name "Warehouse loader"',
    )
    .action(async (options: RegisterOptions, cmd: Command) => {
      const sources = [options.jwksFile !== undefined, options.jwksUrl !== undefined, options.generateKey === true].filter(Boolean).length;
      if (sources !== 1) throw new Error('Give exactly one of --jwks-file, --jwks-url and --generate-key.');
      if (options.generateKey && options.clientFileOut === undefined) {
        throw new Error('--generate-key needs --client-file-out FILE: the private key is written there, and nowhere else.');
      }
      let jwks: unknown;
      let privateJwk: JWK | undefined;
      if (options.generateKey) {
        const pair = await generateClientKeyPair(options.alg);
        jwks = pair.publicJwks;
        privateJwk = pair.privateJwk;
      } else if (options.jwksFile !== undefined) {
        const read = await keysFromFile(options.jwksFile);
        jwks = read.jwks;
        privateJwk = read.privateJwk;
        if (privateJwk && options.clientFileOut === undefined) {
          throw new Error(`${options.jwksFile} holds a private key: register the public key (openssl pkey -pubout), or give --client-file-out to keep the private key there.`);
        }
      }
      if (options.clientFileOut !== undefined && !privateJwk) {
        throw new Error('--client-file-out writes the private key: give --generate-key, or a --jwks-file holding the private key.');
      }
      await withStore(cmd, async (store) => {
        await knownTenant(store, options.tenant);
        let registered: RegisteredClient;
        try {
          registered = await registerClient(store.clients, {
            tenant: options.tenant,
            scope: options.scope,
            name: options.name,
            jwks,
            jwksUrl: options.jwksUrl,
          });
        } catch (e) {
          if (e instanceof RegistrationError) throw new Error(`Registration refused: ${e.message}`);
          throw e;
        }
        if (options.clientFileOut !== undefined && privateJwk) {
          const fhirBaseUrl = options.fhirUrl ?? store.fhirBase?.(options.tenant);
          await writeClientFile(options.clientFileOut, {
            tenant: options.tenant,
            ...(fhirBaseUrl !== undefined ? { fhirBaseUrl } : {}),
            clientId: registered.clientId,
            scope: registered.scope,
            privateJwk,
          });
        }
        await record(store.audit, 'register', registered, `scope ${registered.scope}`);
        print(clientView(registered));
      });
    });

  client
    .command('list')
    .description('List registered clients: id, name, tenant, scopes, state, created')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--json', 'print JSON (the same objects as `client show`)')
    .addHelpText('after', '\nExample:\n  npx flatfhir client list --tenant my-tenant')
    .action(async (options: { tenant?: string; json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        if (options.tenant !== undefined) await knownTenant(store, options.tenant);
        const list = await store.clients.listClients(options.tenant);
        if (options.json) print(list.map(clientView));
        else if (list.length === 0) out.write('No clients registered.\n');
        else out.write(formatTable(['CLIENT ID', 'NAME', 'TENANT', 'SCOPES', 'STATE', 'CREATED'], list.map(clientRow)));
      });
    });

  client
    .command('show')
    .description('Show one client, with its activity: last token issued, last export, failed authentications in the last hour')
    .argument('<client-id>')
    .action(async (id: string, _options: unknown, cmd: Command) => {
      await withStore(cmd, async ({ clients, audit }) => {
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
        await withStore(cmd, async ({ clients, audit }) => {
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
      await withStore(cmd, async ({ clients, audit }) => {
        const c = await clients.getClient(id);
        if (!c || !(await clients.removeClient(id))) throw new Error(`No client ${id}.`);
        await record(audit, 'remove', c);
        print({ client_id: id, removed: true });
      });
    });

  return client;
}
