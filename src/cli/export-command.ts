/**
 * `flatfhir export`: exports from any FHIR Bulk Data server (not only flatfhir) with the client library in
 * src/client/. The command only parses options, picks a view (progress bars, log lines or JSON events) and prints
 * the summary; the protocol lives in the library.
 *
 *   flatfhir export --client-file data/sandbox-client.json --group <id> --out ./export
 *   flatfhir export --fhir-url URL --client-id ID --private-key key.jwk --system --type Patient,Condition --out DIR
 *   flatfhir export --resume STATUS_URL --client-file F --out DIR
 */
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { BulkExportClient, type BulkExportClientOptions, type DeletePolicy, ExportError } from '../client/client.js';
import { jsonReporter } from '../client/reporters/json.js';
import { formatSummary } from '../client/reporters/format.js';
import { logReporter, type Writable } from '../client/reporters/log.js';
import { terminalReporter } from '../client/reporters/terminal.js';
import type { ExportLevel, ExportRequest, ExportResult } from '../client/types.js';
import { credentialsFrom, PRIVATE_KEY_HELP } from './credentials.js';
import { ReportedError } from './shared.js';

export interface ExportCommandIo {
  /** Summary table and `--json` events (default process.stdout). */
  stdout?: Writable;
  /** Log lines and progress bars (default process.stderr); a stream (NodeJS.WritableStream) when `isTTY`. */
  stderr?: Writable;
  /** Show progress bars (default: whether stderr is a terminal). */
  isTTY?: boolean;
  /** Aborts the export (default: the first SIGINT). */
  signal?: AbortSignal;
  /** Library options for tests (retry policy, poll waits). */
  clientOptions?: Partial<BulkExportClientOptions>;
}

interface ExportOptions {
  fhirUrl?: string;
  group?: string;
  patient?: string[];
  patientsFile?: string;
  system?: boolean;
  allPatients?: boolean;
  type?: string[];
  since?: string;
  until?: string;
  typeFilter?: string[];
  elements?: string[];
  includeAssociatedData?: string[];
  outputFormat?: string;
  lenient?: boolean;
  clientFile?: string;
  clientId?: string;
  privateKey?: string;
  tokenUrl?: string;
  scope?: string;
  out: string;
  parallel: number;
  keep?: boolean;
  deleteAfter?: boolean;
  resume?: string;
  json?: boolean;
  force?: boolean;
}

export type { ClientFile } from './credentials.js';
export { readClientFile } from './credentials.js';

const DEFAULT_SCOPE = 'system/*.read';

const commaList = (value: string, previous: string[] | undefined): string[] => [
  ...(previous ?? []),
  ...value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean),
];
const repeat = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
const positiveInt = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new Error(`--parallel must be an integer from 1 to 64, not ${value}.`);
  return n;
};

/** Patient references from a file: one per line (`Patient/id` or `id`, `#` comments), or a JSON array of them. */
async function readPatientsFile(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new Error(`Cannot read the patients file ${file}: ${(e as Error).message}`);
  }
  if (text.trimStart().startsWith('[')) {
    const list = JSON.parse(text) as unknown;
    if (!Array.isArray(list) || !list.every((p) => typeof p === 'string')) throw new Error(`${file}: expected a JSON array of patient references.`);
    return list as string[];
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter(Boolean);
}

async function clientOptionsFrom(opts: ExportOptions): Promise<Omit<BulkExportClientOptions, 'outDir'>> {
  return credentialsFrom(opts, DEFAULT_SCOPE);
}

async function requestFrom(opts: ExportOptions): Promise<ExportRequest> {
  const patients = [...(opts.patient ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean)];
  if (opts.patientsFile !== undefined) patients.push(...(await readPatientsFile(opts.patientsFile)));
  const chosen = [opts.group !== undefined, opts.system === true, opts.allPatients === true].filter(Boolean).length;
  if (chosen > 1) throw new Error('Choose one of --group, --system and --all-patients.');
  if (chosen === 0 && patients.length === 0 && opts.patient === undefined && opts.patientsFile === undefined) {
    throw new Error('Choose what to export: --group ID, --patient REF…, --patients-file F, --system or --all-patients (or --resume STATUS_URL).');
  }
  if ((opts.patient !== undefined || opts.patientsFile !== undefined) && patients.length === 0) throw new Error('No patients were given.');
  if (opts.system && patients.length > 0) throw new Error('--patient cannot be combined with --system.');
  const level: ExportLevel =
    opts.group !== undefined ? { kind: 'group', groupId: opts.group } : opts.system ? { kind: 'system' } : { kind: 'patient' };
  return {
    level,
    ...(opts.type?.length ? { types: opts.type } : {}),
    ...(opts.since !== undefined ? { since: opts.since } : {}),
    ...(opts.until !== undefined ? { until: opts.until } : {}),
    ...(opts.typeFilter?.length ? { typeFilters: opts.typeFilter } : {}),
    ...(opts.elements?.length ? { elements: opts.elements } : {}),
    ...(opts.includeAssociatedData?.length ? { includeAssociatedData: opts.includeAssociatedData } : {}),
    ...(opts.outputFormat !== undefined ? { outputFormat: opts.outputFormat } : {}),
    ...(patients.length ? { patients } : {}),
    ...(opts.lenient ? { lenient: true } : {}),
  };
}

/**
 * An export writes into an empty directory, so that `*.ndjson` there is one export: a directory holding anything
 * else is refused, unless it holds the files of the job being resumed, or `--force` clears it first.
 */
async function prepareOutDir(dir: string, resuming: string | undefined, force: boolean, stderr: Writable): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`Cannot use --out ${dir}: ${(e as Error).message}`);
  }
  if (entries.length === 0) return;
  let earlier: string | undefined;
  try {
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { statusUrl?: unknown };
    if (typeof m.statusUrl === 'string') earlier = m.statusUrl;
  } catch {
    // no manifest of an earlier export
  }
  if (resuming !== undefined && earlier === resuming) return;
  if (force) {
    for (const entry of entries) await rm(join(dir, entry), { recursive: true, force: true });
    stderr.write(`--force: removed ${entries.length} entries from ${dir}\n`);
    return;
  }
  const what = earlier !== undefined ? `the files of another export (${earlier})` : `${entries.length} entries`;
  throw new Error(
    `--out ${dir} is not empty: it holds ${what}. An export writes into an empty directory, so that its *.ndjson files are one export; ` +
      'choose another directory, or give --force to delete what is there first.',
  );
}

/** Quotes a word for a POSIX shell when it needs it. */
const shellWord = (w: string): string => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);

/** The command line that resumes this export. */
const resumeHint = (statusUrl: string, opts: ExportOptions): string => {
  const words = ['flatfhir', 'export', '--resume', statusUrl];
  if (opts.fhirUrl !== undefined) words.push('--fhir-url', opts.fhirUrl);
  if (opts.clientFile !== undefined) words.push('--client-file', opts.clientFile);
  else words.push('--client-id', opts.clientId ?? 'ID', '--private-key', opts.privateKey ?? 'FILE');
  if (opts.tokenUrl !== undefined) words.push('--token-url', opts.tokenUrl);
  if (opts.scope !== undefined) words.push('--scope', opts.scope);
  words.push('--out', opts.out);
  if (opts.keep) words.push('--keep');
  if (opts.deleteAfter) words.push('--delete-after');
  return words.map(shellWord).join(' ');
};

export function exportCommand(io: ExportCommandIo = {}): Command {
  return new Command('export')
    .description('Export data from a FHIR Bulk Data server (any conformant server) into NDJSON files')
    .addOption(new Option('--fhir-url <url>', 'the FHIR base URL (default: fhirBaseUrl of --client-file)'))
    .addOption(new Option('--group <id>', 'export a Group: [base]/Group/<id>/$export'))
    .addOption(new Option('--patient <refs...>', 'export these patients (Patient/<id> or <id>; POSTs a Parameters body)'))
    .addOption(new Option('--patients-file <file>', 'patients to export, one reference per line (or a JSON array)'))
    .addOption(new Option('--system', 'system-level export: [base]/$export'))
    .addOption(new Option('--all-patients', 'every patient: [base]/Patient/$export'))
    .addOption(new Option('--type <types>', '_type: resource types, comma separated (repeatable)').argParser(commaList))
    .addOption(new Option('--since <instant>', '_since: only resources changed after this FHIR instant'))
    .addOption(new Option('--until <instant>', '_until: only resources changed before this FHIR instant'))
    .addOption(new Option('--type-filter <query>', '_typeFilter: e.g. "Condition?clinical-status=active" (repeatable)').argParser(repeat))
    .addOption(new Option('--elements <elements>', '_elements, comma separated').argParser(commaList))
    .addOption(new Option('--include-associated-data <values>', 'includeAssociatedData, comma separated').argParser(commaList))
    .addOption(new Option('--output-format <format>', '_outputFormat (default application/fhir+ndjson)'))
    .addOption(new Option('--lenient', 'Prefer: handling=lenient (the server ignores parameters it does not support)'))
    .addOption(new Option('--client-file <file>', 'a client file: fhirBaseUrl, tokenUrl, clientId, scope, privateJwk (e.g. data/sandbox-client.json)'))
    .addOption(new Option('--client-id <id>', 'the registered client_id'))
    .addOption(new Option('--private-key <file>', PRIVATE_KEY_HELP))
    .addOption(new Option('--token-url <url>', 'the token endpoint (default: discovered from the server)'))
    .addOption(new Option('--scope <scopes>', `scopes to request (default: the client file's, else ${DEFAULT_SCOPE})`))
    .addOption(new Option('--out <dir>', 'the output directory: empty or new (or the resumed job\'s own)').makeOptionMandatory())
    .addOption(new Option('--force', 'delete what --out holds before exporting into it'))
    .addOption(new Option('--parallel <n>', 'downloads at a time').argParser(positiveInt).default(4))
    .addOption(new Option('--keep', 'do not delete the job on the server after downloading').conflicts('deleteAfter'))
    .addOption(new Option('--delete-after', 'delete the job whatever happens, also when interrupted or when a file failed'))
    .addOption(new Option('--resume <status-url>', 'continue an export from its status URL (files already on disk are kept)'))
    .addOption(new Option('--json', 'print events as JSON lines on stdout (for scripts)'))
    .addHelpText(
      'after',
      '\nExamples:\n  npx flatfhir export --client-file data/sandbox-client.json --group 11ec-d16a-b40370f8-9d31-577f11a339c5 --out ./export\n' +
        '  npx flatfhir export --fhir-url https://fhir.example/r4/t --client-id ID --private-key key.pem --system --type Patient --out ./export',
    )
    .action(async (opts: ExportOptions) => {
      const stdout = io.stdout ?? process.stdout;
      const stderr = io.stderr ?? process.stderr;
      if (opts.resume !== undefined && (opts.group !== undefined || opts.system || opts.allPatients || opts.patient || opts.patientsFile)) {
        throw new Error('--resume continues an existing export: do not give --group, --patient, --system or --all-patients with it.');
      }
      const request = opts.resume === undefined ? await requestFrom(opts) : undefined;
      const credentials = await clientOptionsFrom(opts);
      if (request && credentials.fhirBaseUrl === undefined) throw new Error('Give --fhir-url (or a client file with fhirBaseUrl).');
      if (!request && credentials.fhirBaseUrl === undefined && credentials.tokenUrl === undefined) {
        throw new Error('To resume, give --fhir-url or --token-url (or a client file) so that a token can be requested.');
      }
      await prepareOutDir(opts.out, opts.resume, opts.force === true, stderr);
      const deleteJob: DeletePolicy = opts.keep ? 'never' : opts.deleteAfter ? 'always' : 'on-success';
      const client = new BulkExportClient({ ...credentials, outDir: opts.out, parallel: opts.parallel, deleteJob, ...io.clientOptions });

      const tty = io.isTTY ?? (process.stderr.isTTY === true && io.stderr === undefined);
      let stopView: () => void;
      if (opts.json) stopView = jsonReporter(client, stdout);
      else if (tty) {
        const view = terminalReporter(client, stderr as NodeJS.WritableStream);
        stopView = () => view.stop();
      } else stopView = logReporter(client, stderr);

      const controller = new AbortController();
      const signal = io.signal ? AbortSignal.any([io.signal, controller.signal]) : controller.signal;
      const onSigint = (): void => {
        if (controller.signal.aborted) process.exit(130); // a second Ctrl-C: leave at once
        stderr.write('\nInterrupted: stopping (Ctrl-C again to quit at once)…\n');
        controller.abort();
      };
      if (!io.signal) process.on('SIGINT', onSigint);

      let result: ExportResult;
      try {
        result = opts.resume !== undefined ? await client.resume(opts.resume, { signal }) : await client.export(request as ExportRequest, { signal });
      } catch (e) {
        stopView();
        if (e instanceof ExportError && e.statusUrl !== undefined) {
          if (e.jobDeleted) stderr.write(`The job was deleted on the server.\n`);
          else stderr.write(`The export can be resumed with:\n  ${resumeHint(e.statusUrl, opts)}\n`);
        }
        // The progress view has printed the error already (JSON events go to stdout: there it is printed once more).
        if (!opts.json && e instanceof ExportError && !e.aborted) throw new ReportedError(e.message, { cause: e });
        throw e;
      } finally {
        process.off('SIGINT', onSigint);
      }
      stopView();

      if (!opts.json) {
        stdout.write(formatSummary(result.summary));
        stdout.write(`\nfiles in ${result.outDir} (manifest.json beside them)${result.jobDeleted ? '; the job was deleted on the server' : ''}\n`);
      }
      const failed = result.files.filter((f) => !f.ok);
      if (failed.length > 0) {
        for (const f of failed) stderr.write(`failed: ${f.file.name}: ${f.error ?? 'unknown error'}\n`);
        if (!result.jobDeleted) stderr.write(`Retry the failed files with:\n  ${resumeHint(result.statusUrl, opts)}\n`);
        throw new Error(`${failed.length} of ${result.files.length} file(s) failed.`);
      }
    });
}
