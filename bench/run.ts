/**
 * Benchmarks (npm run bench -- <name> [options]). Each prints figures and compares with a baseline measured in
 * the same run; none asserts a time.
 *
 *   import   [--patients N]   import throughput (resources/s) beside read + parse and raw INSERT baselines of the same
 *                             rows, and the importing process's peak RSS
 *   export   [--patients N]   raw store-to-file baseline vs a full Group export end to end, server peak RSS
 *   synthea  [--copies N]     synthea-100 imported N times with prefixed ids, system export end to end
 *   polls    [--patients N] [--pollers P]
 *                             status-poll latency (p50/p99) of P concurrent pollers during a Group export, and the
 *                             export's duration against the same export with no pollers
 *   scale    [--patients N]   export throughput on PostgreSQL + S3 (an s3rver) with 1 and 2 worker processes beside
 *                             the embedded server, same population, same run; kick-off latency on each
 *   groups   [--patients N]   dynamic group evaluation on the search-value index against reading and parsing every
 *                             resource, for 10,000 and 100,000 patients (or N)
 *   prepare  [--patients N]   generates and imports the population the export benchmarks use (kept in .bench/)
 *   views    [--patients N]   the shipped SQL on FHIR views (CSV, and Parquet for observations) over a generated
 *                             population (default 10,000 patients): rows/s, resources/s, CPU seconds and peak RSS
 *                             of each, against the raw NDJSON export of the same type run just before it; then
 *                             $sql-export of the observation view against the bulk export, through the server
 *   all                       import and export at the default size
 *   --threads N               export worker threads of the server (default: the server's default)
 *   --profile cpu|heap        runs the server with --cpu-prof or --heap-prof (profiles in .bench/profiles/)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import http from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { parseArgs } from 'node:util';
import { CompactSign, importJWK, type JWK } from 'jose';

const ROOT = join(import.meta.dirname, '..');
const CACHE = join(ROOT, '.bench');
const SYNTHEA = join(ROOT, 'test', 'fixtures', 'synthea-100');

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string' },
    patients: { type: 'string' },
    copies: { type: 'string', default: '10' },
    seed: { type: 'string', default: 'bench' },
    pollers: { type: 'string', default: '100' },
    profile: { type: 'string' },
  },
});
const patients = Number(values.patients ?? (positionals[0] === 'views' ? 10_000 : 1000));
const copies = Number(values.copies);

const fmt = (n: number, digits = 0): string => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number): string => `${fmt(bytes / 1024 / 1024, 1)} MB`;

/** Runs an entry (TypeScript through tsx, or plain .mjs) in a child process; returns its last stdout line as JSON. */
async function child<T>(args: string[]): Promise<T> {
  const loader = (args[0] ?? '').endsWith('.mjs') ? [] : ['--import', 'tsx'];
  const p = spawn(process.execPath, [...loader, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => p.on('exit', r));
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}`);
  return JSON.parse(out.trim().split('\n').pop() as string) as T;
}

async function population(n: number): Promise<string> {
  const dir = join(CACHE, `population-${n}-${values.seed}`);
  if (existsSync(join(dir, '.complete'))) return dir;
  await rm(dir, { recursive: true, force: true });
  const { generatePopulation } = await import('../src/synthetic/index.js');
  const started = Date.now();
  const result = await generatePopulation({ patients: n, seed: values.seed as string, out: dir });
  const total = Object.values(result.counts).reduce((a, b) => a + b, 0);
  console.log(`generated ${fmt(n)} patients, ${fmt(total)} resources in ${fmt((Date.now() - started) / 1000, 1)} s (${dir})`);
  await writeFile(join(dir, '.complete'), '');
  return dir;
}

interface ImportFigures {
  resources: number;
  seconds: number;
  maxRssBytes: number;
}

interface RawInsertFigures {
  rows: number;
  seconds: number;
}

async function benchImport(n: number): Promise<void> {
  const dir = await population(n);
  const data = await mkdtemp(join(tmpdir(), 'flatfhir-bench-'));
  try {
    // Baseline: reading and parsing the same files without storing them.
    const started = Date.now();
    let lines = 0;
    for (const f of (await readdir(dir)).filter((x) => x.endsWith('.ndjson'))) {
      for await (const line of createInterface({ input: createReadStream(join(dir, f)), crlfDelay: Infinity })) {
        if (line) {
          JSON.parse(line);
          lines++;
        }
      }
    }
    const parseSeconds = (Date.now() - started) / 1000;
    const db = join(data, 'flatfhir.sqlite');
    const r = await child<ImportFigures>(['bench/import-child.mjs', db, dir]);
    // Baseline: the rows the import stored, inserted with plain prepared INSERTs in one transaction.
    const raw = await child<RawInsertFigures>(['bench/raw-insert-child.mjs', db, join(data, 'raw-insert.sqlite'), 'bench']);
    const importRate = r.resources / r.seconds;
    const rawRate = raw.rows / raw.seconds;
    console.log(`\nimport of ${fmt(n)} patients into SQLite`);
    console.log(`  baseline (read + JSON.parse only):  ${fmt(lines / parseSeconds)} resources/s`);
    console.log(`  baseline (raw INSERT of the rows):  ${fmt(rawRate)} rows/s (${fmt(raw.rows)} in ${fmt(raw.seconds, 1)} s, one transaction)`);
    console.log(`  import:                             ${fmt(importRate)} resources/s (${fmt(r.resources)} in ${fmt(r.seconds, 1)} s)`);
    console.log(`  import / read + parse:              ${fmt((importRate / (lines / parseSeconds)) * 100)}%`);
    console.log(`  import / raw INSERT:                ${fmt((importRate / rawRate) * 100)}%`);
    console.log(`  peak RSS of the importing process:  ${mb(r.maxRssBytes)}`);
  } finally {
    await rm(data, { recursive: true, force: true });
  }
}

/**
 * Starts `flatfhir <args>` from the compiled build (as users run it: `npm start`, not the TypeScript sources);
 * resolves once it listens (serve) or runs (worker), with its API origin (serve only).
 */
async function startProcess(args: string[], env: Record<string, string> = {}): Promise<{ proc: ChildProcess; origin: string }> {
  const profile = values.profile === 'cpu' || values.profile === 'heap' ? [`--${values.profile}-prof`, `--${values.profile}-prof-dir`, join(CACHE, 'profiles')] : [];
  const proc = spawn(process.execPath, [...profile, 'bin/flatfhir.js', ...args], {
    cwd: ROOT,
    // Two malloc arenas, as the systemd units, the container image and the compose file run flatfhir (deploy/).
    env: { ...process.env, MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2', LOG_LEVEL: 'warn', ...(values.threads !== undefined ? { FLATFHIR_EXPORT_THREADS: values.threads } : {}), ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const origin = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) resolve(m[1] as string);
      else if (out.includes('flatfhir worker running')) resolve('');
    });
    proc.on('exit', (c) => reject(new Error(`flatfhir ${args[0]} exited with ${c}: ${out}`)));
  });
  return { proc, origin };
}

/** Starts `flatfhir serve` on an ephemeral port over a data directory (embedded SQLite unless `args` say more). */
function startServer(dataDir: string, env: Record<string, string> = {}, args: string[] = []): Promise<{ proc: ChildProcess; origin: string }> {
  return startProcess(['serve', '--data', dataDir, '--port', '0', '--no-seed', ...args], env);
}

/** Sends SIGTERM and waits for the exit. */
async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
}

async function currentRss(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function peakRss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

async function token(origin: string, tenant: string, clientFile: string): Promise<string> {
  const client = JSON.parse(await readFile(clientFile, 'utf8')) as { clientId: string; privateJwk: JWK & { kid: string; alg: string } };
  const tokenUrl = `${origin}/tenants/${tenant}/protocols/oauth2/profiles/smart-v1/token`;
  const now = Math.floor(Date.now() / 1000);
  const payload = { iss: client.clientId, sub: client.clientId, aud: tokenUrl, exp: now + 240, jti: crypto.randomUUID() };
  const key = await importJWK(client.privateJwk, client.privateJwk.alg);
  const assertion = await new CompactSign(new TextEncoder().encode(JSON.stringify(payload)))
    .setProtectedHeader({ alg: client.privateJwk.alg, kid: client.privateJwk.kid, typ: 'JWT' })
    .sign(key);
  const r = await fetch(tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: 'system/*.rs',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  if (!r.ok) throw new Error(`token request failed: ${r.status} ${await r.text()}`);
  return ((await r.json()) as { access_token: string }).access_token;
}

/**
 * Downloads a URL with node:http, counting bytes (fetch's body handling costs more CPU than the server's
 * sending). Asks for identity encoding: this measures the server, not gzip on a loopback link.
 */
function drain(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': 'identity' } }, (res) => {
        let n = 0;
        res.on('data', (c: Buffer) => (n += c.length));
        res.on('end', () => (res.statusCode === 200 ? resolve(n) : reject(new Error(`download answered ${res.statusCode}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/** Kick-off → complete → every file downloaded through its 307; returns resources, bytes and seconds. */
async function exportEndToEnd(
  origin: string,
  tenant: string,
  path: string,
  clientFile: string,
  pid?: number,
): Promise<{ resources: number; bytes: number; seconds: number; files: number; completed: number; kickoffMs: number; rssJob: number; rssDownloads: number }> {
  const t = await token(origin, tenant, clientFile);
  const headers = { authorization: `Bearer ${t}` };
  // The server's resident size, sampled every 50 ms: the largest while the job runs, and while files download.
  let rssMax = 0;
  const sampler = pid === undefined ? undefined : setInterval(() => void currentRss(pid).then((b) => (rssMax = Math.max(rssMax, b)), () => undefined), 50);
  const started = Date.now();
  const kick = await fetch(`${origin}/r4/${tenant}/${path}`, { headers: { ...headers, accept: 'application/fhir+json', prefer: 'respond-async' } });
  const kickoffMs = Date.now() - started;
  if (kick.status !== 202) throw new Error(`kick-off failed: ${kick.status} ${await kick.text()}`);
  const statusUrl = kick.headers.get('content-location') as string;
  let manifest: { output: { url: string; count: number }[] };
  for (;;) {
    const r = await fetch(statusUrl, { headers });
    if (r.status === 200) {
      manifest = (await r.json()) as typeof manifest;
      break;
    }
    if (r.status !== 202) throw new Error(`status failed: ${r.status} ${await r.text()}`);
    await r.arrayBuffer();
    await new Promise((res) => setTimeout(res, 100));
  }
  const completed = (Date.now() - started) / 1000;
  const rssJob = rssMax;
  rssMax = 0;
  // A fresh token for the downloads: a long export outlives the first one.
  headers.authorization = `Bearer ${await token(origin, tenant, clientFile)}`;
  let bytes = 0;
  let resources = 0;
  const queue = [...manifest.output];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let o = queue.shift(); o; o = queue.shift()) {
        const redirect = await fetch(o.url, { headers, redirect: 'manual' });
        const n = await drain(redirect.headers.get("location") as string);
        bytes += n;
        resources += o.count;
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  await fetch(statusUrl, { method: 'DELETE', headers });
  clearInterval(sampler);
  return { resources, bytes, seconds, files: manifest.output.length, completed, kickoffMs, rssJob, rssDownloads: rssMax };
}

/** Kick-off latency: `n` kick-offs of `path` (each job deleted before the next); the median and the slowest, in ms. */
async function kickoffLatency(origin: string, tenant: string, path: string, clientFile: string, n = 7): Promise<{ median: number; max: number }> {
  const t = await token(origin, tenant, clientFile);
  const headers = { authorization: `Bearer ${t}` };
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    const kick = await fetch(`${origin}/r4/${tenant}/${path}`, { headers: { ...headers, accept: 'application/fhir+json', prefer: 'respond-async' } });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (kick.status !== 202) throw new Error(`kick-off failed: ${kick.status} ${await kick.text()}`);
    await fetch(kick.headers.get('content-location') as string, { method: 'DELETE', headers });
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), max: times[times.length - 1] ?? 0 };
}

/** A data directory holding the population of `n` patients in tenant `bench`, with a Group of all of them. */
async function exportData(n: number): Promise<string> {
  const dir = await population(n);
  const data = join(CACHE, `export-data-${n}-${values.seed}`);
  if (!existsSync(join(data, '.complete'))) {
    await rm(data, { recursive: true, force: true });
    await mkdir(data, { recursive: true });
    await child(['bench/import-child.mjs', join(data, 'flatfhir.sqlite'), dir, 'bench', 'all-patients-group']);
    await writeFile(join(data, '.complete'), '');
  }
  return data;
}

/** Resets a process's peak RSS (VmHWM) to its current RSS, so the next reading is the peak from now on. */
async function resetPeakRss(pid: number): Promise<void> {
  await writeFile(`/proc/${pid}/clear_refs`, '5');
}

/** CPU seconds (user + system) a process has used so far. */
async function cpuSeconds(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Downloads a URL with the given Accept-Encoding; resolves with the bytes received (as sent, not decoded). */
function drainEncoded(url: string, encoding: string): Promise<{ bytes: number; encoding: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { 'accept-encoding': encoding } }, (res) => {
        let bytes = 0;
        res.on('data', (c: Buffer) => (bytes += c.length));
        res.on('end', () => (res.statusCode === 200 ? resolve({ bytes, encoding: String(res.headers['content-encoding'] ?? 'identity') }) : reject(new Error(`download answered ${res.statusCode}`))));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

/**
 * What gzip costs and saves: one Group export's files downloaded whole without and with `Accept-Encoding: gzip`
 * (compressed on the fly by the server), four at a time: bytes sent, seconds, and the server's CPU time.
 */
async function gzipFigures(origin: string, pid: number, tenant: string, clientFile: string): Promise<{ name: string; bytes: number; seconds: number; cpu: number }[]> {
  const t = await token(origin, tenant, clientFile);
  const headers = { authorization: `Bearer ${t}` };
  const kick = await fetch(`${origin}/r4/${tenant}/Group/all-patients/$export`, { headers: { ...headers, accept: 'application/fhir+json', prefer: 'respond-async' } });
  if (kick.status !== 202) throw new Error(`kick-off failed: ${kick.status} ${await kick.text()}`);
  const statusUrl = kick.headers.get('content-location') as string;
  let manifest: { output: { url: string }[] };
  for (;;) {
    const r = await fetch(statusUrl, { headers });
    if (r.status === 200) {
      manifest = (await r.json()) as typeof manifest;
      break;
    }
    await r.arrayBuffer();
    await new Promise((res) => setTimeout(res, 200));
  }
  const out: { name: string; bytes: number; seconds: number; cpu: number }[] = [];
  // A fresh token for the downloads: a long export outlives the first one.
  headers.authorization = `Bearer ${await token(origin, tenant, clientFile)}`;
  for (const [name, encoding] of [
    ['identity', 'identity'],
    ['gzip (on the fly)', 'gzip'],
  ] as const) {
    const queue = [...manifest.output];
    let bytes = 0;
    const cpu0 = await cpuSeconds(pid);
    const started = process.hrtime.bigint();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let o = queue.shift(); o; o = queue.shift()) {
          const redirect = await fetch(o.url, { headers, redirect: 'manual' });
          const location = redirect.headers.get('location');
          if (redirect.status !== 307 || !location) throw new Error(`file ${o.url} answered ${redirect.status}`);
          const r = await drainEncoded(location, encoding);
          if (r.encoding !== encoding) throw new Error(`asked for ${encoding}, got ${r.encoding}`);
          bytes += r.bytes;
        }
      }),
    );
    out.push({ name, bytes, seconds: Number(process.hrtime.bigint() - started) / 1e9, cpu: (await cpuSeconds(pid)) - cpu0 });
  }
  await fetch(statusUrl, { method: 'DELETE', headers });
  return out;
}

async function benchExport(n: number): Promise<void> {
  const data = await exportData(n);
  const tenant = 'bench';
  // (a) raw baseline: every stored row of the tenant read from the store and written to one file, one thread.
  const raw = await child<{ resources: number; bytes: number; seconds: number }>(['bench/raw-baseline-child.ts', join(data, 'flatfhir.sqlite'), tenant, 'all-patients']);
  const { proc, origin } = await startServer(data);
  const pid = proc.pid as number;
  try {
    const clientFile = join(data, 'bench-client.json');
    await child(['bench/client-child.ts', join(data, 'flatfhir.sqlite'), tenant, clientFile]);
    const idle = await peakRss(pid);
    const rate = (x: { resources: number; seconds: number }): number => x.resources / x.seconds;
    console.log(`\nexport of ${fmt(n)} patients (embedded: SQLite, local files)`);
    console.log(`  (a) raw baseline (store → one file):   ${fmt(rate(raw))} resources/s, ${fmt(raw.bytes / raw.seconds / 1e6, 1)} MB/s (${fmt(raw.resources)} resources, ${mb(raw.bytes)}, ${fmt(raw.seconds, 2)} s)`);
    for (const [name, path] of [
      ['Group export of every patient', 'Group/all-patients/$export'],
      ['system export', '$export'],
    ] as const) {
      await resetPeakRss(pid);
      const e2e = await exportEndToEnd(origin, tenant, path, clientFile, pid);
      const rss = await peakRss(pid);
      console.log(`  (b) ${name}, end to end (kick-off → every file downloaded):`);
      console.log(`      ${fmt(rate(e2e))} resources/s, ${fmt(e2e.bytes / e2e.seconds / 1e6, 1)} MB/s (${fmt(e2e.resources)} resources in ${e2e.files} files, ${mb(e2e.bytes)}, ${fmt(e2e.seconds, 2)} s; job complete after ${fmt(e2e.completed, 2)} s)`);
      console.log(`      (b) / (a): ${fmt((rate(e2e) / rate(raw)) * 100)}%; kick-off answered in ${fmt(e2e.kickoffMs)} ms; server peak RSS during the export ${mb(rss)} (sampled: ${mb(e2e.rssJob)} while the job ran, ${mb(e2e.rssDownloads)} while files downloaded)`);
    }
    const kickoffs = {
      system: await kickoffLatency(origin, tenant, '$export', clientFile, 15),
      group: await kickoffLatency(origin, tenant, 'Group/all-patients/$export', clientFile, 15),
    };
    console.log(
      `  kick-off, 15 in a row (each right after the previous job was deleted, while its planning or chunks still ran): system median ${fmt(kickoffs.system.median, 1)} ms (max ${fmt(kickoffs.system.max, 1)}), Group median ${fmt(kickoffs.group.median, 1)} ms (max ${fmt(kickoffs.group.max, 1)})`,
    );
    const gz = await gzipFigures(origin, pid, tenant, clientFile);
    const [plain, zipped] = gz as [(typeof gz)[0], (typeof gz)[0]];
    console.log(`  gzip: the Group export's files downloaded whole, 4 at a time`);
    for (const g of gz) {
      console.log(`      ${g.name.padEnd(18)} ${mb(g.bytes).padStart(10)} sent in ${fmt(g.seconds, 2)} s (${fmt(g.bytes / g.seconds / 1e6, 1)} MB/s on the wire), server CPU ${fmt(g.cpu, 2)} s`);
    }
    console.log(`      gzip sends ${fmt((zipped.bytes / plain.bytes) * 100)}% of the bytes for ${fmt(zipped.cpu - plain.cpu, 2)} s more server CPU (${fmt(plain.bytes / 1e6 / Math.max(0.01, zipped.cpu - plain.cpu), 0)} MB of NDJSON compressed per CPU second)`);
    console.log(`  server RSS after start, before any export: ${mb(idle)} (the server runs with MALLOC_ARENA_MAX=${process.env.MALLOC_ARENA_MAX ?? '2'}; deploy/ sets 2)`);
  } finally {
    await stop(proc);
  }
}

async function benchSynthea(n: number): Promise<void> {
  const data = join(CACHE, `synthea-x${n}`);
  const tenant = 'synthea';
  if (!existsSync(join(data, '.complete'))) {
    await rm(data, { recursive: true, force: true });
    const prefixed = join(data, 'input');
    await mkdir(prefixed, { recursive: true });
    // synthea-100 n times over, every id and reference prefixed with the copy number.
    for (const f of (await readdir(SYNTHEA)).filter((x) => x.endsWith('.ndjson.gz'))) {
      const out = createWriteStream(join(prefixed, f.replace('.gz', '')));
      const lines: string[] = [];
      for await (const line of createInterface({ input: createReadStream(join(SYNTHEA, f)).pipe(createGunzip()), crlfDelay: Infinity })) if (line) lines.push(line);
      for (let c = 0; c < n; c++) {
        for (const line of lines) {
          const r = JSON.parse(line) as { id: string };
          r.id = `c${c}-${r.id}`;
          const text = JSON.stringify(r).replace(/"reference":"([A-Za-z]+)\/([^"]+)"/g, `"reference":"$1/c${c}-$2"`);
          if (!out.write(`${text}\n`)) await new Promise<void>((res) => out.once('drain', () => res()));
        }
      }
      await new Promise<void>((res) => out.end(() => res()));
    }
    const r = await child<ImportFigures>(['bench/import-child.mjs', join(data, 'flatfhir.sqlite'), prefixed, tenant]);
    console.log(`imported synthea-100 × ${n}: ${fmt(r.resources)} resources in ${fmt(r.seconds, 1)} s (${fmt(r.resources / r.seconds)} resources/s)`);
    await rm(prefixed, { recursive: true });
    await writeFile(join(data, '.complete'), '');
  }
  const raw = await child<{ resources: number; bytes: number; seconds: number }>(['bench/raw-baseline-child.ts', join(data, 'flatfhir.sqlite'), tenant, 'system']);
  const { proc, origin } = await startServer(data);
  try {
    const clientFile = join(data, 'bench-client.json');
    await child(['bench/client-child.ts', join(data, 'flatfhir.sqlite'), tenant, clientFile]);
    const e2e = await exportEndToEnd(origin, tenant, '$export', clientFile);
    console.log(`\nsystem export of synthea-100 × ${n}`);
    console.log(`  (a) raw baseline (store → one file): ${fmt(raw.resources / raw.seconds)} resources/s (${fmt(raw.resources)} resources, ${fmt(raw.seconds, 2)} s)`);
    console.log(`  (b) end to end (kick-off → files):  ${fmt(e2e.resources / e2e.seconds)} resources/s (${fmt(e2e.resources)} resources in ${e2e.files} files, ${mb(e2e.bytes)}, ${fmt(e2e.seconds, 2)} s)`);
    console.log(`  (b) / (a):                          ${fmt((e2e.resources / e2e.seconds / (raw.resources / raw.seconds)) * 100)}%`);
    console.log(`  server peak RSS:                    ${mb(await peakRss(proc.pid as number))}`);
  } finally {
    proc.kill('SIGTERM');
  }
}

const PG_URL = process.env['BENCH_DATABASE_URL'] ?? process.env['TEST_DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The population of `n` patients in a PostgreSQL schema of its own (kept for later runs, named in .bench/). */
async function pgPopulation(n: number): Promise<string> {
  const schema = `bench_${n}_${String(values.seed).replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
  const marker = join(CACHE, `pg-${schema}.complete`);
  const { default: pg } = await import('pg');
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  try {
    const present = await db.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2', [schema, 'resources']);
    if (existsSync(marker) && present.rowCount === 1) return `${PG_URL}?schema=${schema}`;
    await db.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
  } finally {
    await db.end();
  }
  const dir = await population(n);
  const r = await child<{ resources: number; seconds: number }>(['bench/pg-import-child.mjs', PG_URL, schema, dir, 'bench']);
  console.log(`imported ${fmt(r.resources)} resources into PostgreSQL schema ${schema} in ${fmt(r.seconds, 1)} s`);
  await writeFile(marker, '');
  return `${PG_URL}?schema=${schema}`;
}

interface ScaleRun {
  setup: string;
  e2e: Awaited<ReturnType<typeof exportEndToEnd>>;
  kickoffs: { system: { median: number; max: number }; group: { median: number; max: number }; duringPlanning: { median: number; max: number } };
  rss: { name: string; bytes: number }[];
  /** CPU seconds each process used during the export (kick-off to the last file downloaded). */
  cpu: { name: string; seconds: number }[];
}

/** The benchmark's S3-protocol server (an s3rver) in a child process, so its CPU time is measured on its own. */
async function startS3Process(bucket: string): Promise<{ proc: ChildProcess; endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/s3-child.ts', bucket], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const info = await new Promise<{ endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } }>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0] as string) as { endpoint: string; credentials: { accessKeyId: string; secretAccessKey: string } });
    });
    proc.on('exit', (c) => reject(new Error(`the s3rver process exited with ${c}`)));
  });
  return { proc, ...info };
}

/**
 * CPU seconds of the PostgreSQL backends serving connections whose application_name starts with `prefix`,
 * sampled every 250 ms (a backend that ends between samples loses at most its last 250 ms).
 */
function pgBackendCpu(prefix: string): { stop(): Promise<number> } {
  const seen = new Map<number, { first: number; last: number }>();
  let db: import('pg').Client | undefined;
  const sample = async (): Promise<void> => {
    if (!db) {
      const { default: pg } = await import('pg');
      db = new pg.Client({ connectionString: PG_URL });
      await db.connect();
    }
    const { rows } = await db.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name LIKE $1', [`${prefix}%`]);
    for (const { pid } of rows) {
      const cpu = await cpuSeconds(pid).catch(() => undefined);
      if (cpu === undefined) continue;
      const entry = seen.get(pid);
      // A backend already there at the start counts from its CPU then; one started since, from nothing.
      if (entry) entry.last = cpu;
      else seen.set(pid, { first: started ? 0 : cpu, last: cpu });
    }
  };
  let started = false;
  const first = sample().then(() => (started = true));
  const timer = setInterval(() => void sample().catch(() => undefined), 250);
  return {
    async stop() {
      await first;
      clearInterval(timer);
      await sample().catch(() => undefined);
      await db?.end();
      let total = 0;
      for (const e of seen.values()) total += e.last - e.first;
      return total;
    },
  };
}

/**
 * Kick-off latency while another job is being planned: a Group export of every patient by one client, then, at
 * once, `n` system kick-offs of another client one after the other (each deleted before the next), the first of
 * which lands while the worker plans the Group export. The median and the slowest, in ms.
 */
async function kickoffDuringPlanning(origin: string, tenant: string, clientFile: string, otherClientFile: string, n = 5): Promise<{ median: number; max: number }> {
  const a = { authorization: `Bearer ${await token(origin, tenant, clientFile)}` };
  const b = { authorization: `Bearer ${await token(origin, tenant, otherClientFile)}` };
  const accept = { accept: 'application/fhir+json', prefer: 'respond-async' };
  const big = await fetch(`${origin}/r4/${tenant}/Group/all-patients/$export`, { headers: { ...a, ...accept } });
  if (big.status !== 202) throw new Error(`kick-off failed: ${big.status} ${await big.text()}`);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = process.hrtime.bigint();
    const kick = await fetch(`${origin}/r4/${tenant}/$export`, { headers: { ...b, ...accept } });
    times.push(Number(process.hrtime.bigint() - started) / 1e6);
    if (kick.status !== 202) throw new Error(`kick-off failed: ${kick.status} ${await kick.text()}`);
    await fetch(kick.headers.get('content-location') as string, { method: 'DELETE', headers: b });
  }
  await fetch(big.headers.get('content-location') as string, { method: 'DELETE', headers: a });
  times.sort((x, y) => x - y);
  return { median: percentile(times, 50), max: times[times.length - 1] ?? 0 };
}

/**
 * Export throughput of the scaled-out shape (an API node without workers, 1 or 2 `flatfhir worker` processes, over
 * PostgreSQL and an S3-protocol store) beside the embedded server (SQLite, local files), on the same population in
 * the same run; the CPU time of every process (the s3rver's and PostgreSQL's backends too); kick-off latency: the
 * first after the server started, a system and a Group export of every patient, and during another job's planning.
 */
async function benchScale(n: number): Promise<void> {
  const tenant = 'bench';
  const data = await exportData(n);
  const databaseUrl = await pgPopulation(n);
  const s3 = await startS3Process('flatfhir-bench');
  const work = await mkdtemp(join(tmpdir(), 'flatfhir-bench-scale-'));
  const runs: ScaleRun[] = [];
  const measure = async (setup: string, origin: string, clientFile: string, otherClientFile: string, procs: { name: string; proc: ChildProcess }[], pgPrefix?: string): Promise<void> => {
    const all = [...procs, { name: 's3rver', proc: s3.proc }];
    const cpu0 = await Promise.all(all.map((p) => cpuSeconds(p.proc.pid as number)));
    const self0 = process.cpuUsage();
    const backends = pgPrefix ? pgBackendCpu(pgPrefix) : undefined;
    const e2e = await exportEndToEnd(origin, tenant, 'Group/all-patients/$export', clientFile);
    const self = process.cpuUsage(self0);
    const pgCpu = await backends?.stop();
    const cpu = [
      ...(await Promise.all(all.map(async (p, i) => ({ name: p.name, seconds: (await cpuSeconds(p.proc.pid as number)) - (cpu0[i] ?? 0) })))),
      ...(pgCpu !== undefined ? [{ name: 'PostgreSQL backends', seconds: pgCpu }] : []),
      { name: 'benchmark process (downloads)', seconds: (self.user + self.system) / 1e6 },
    ];
    const rss = await Promise.all(procs.map(async (p) => ({ name: p.name, bytes: await peakRss(p.proc.pid as number) })));
    const kickoffs = {
      system: await kickoffLatency(origin, tenant, '$export', clientFile),
      group: await kickoffLatency(origin, tenant, 'Group/all-patients/$export', clientFile),
      duringPlanning: await kickoffDuringPlanning(origin, tenant, clientFile, otherClientFile),
    };
    runs.push({ setup, e2e, kickoffs, rss, cpu });
  };
  try {
    const raw = await child<{ resources: number; bytes: number; seconds: number }>(['bench/raw-baseline-child.ts', join(data, 'flatfhir.sqlite'), tenant, 'all-patients']);
    {
      const clientFile = join(data, 'bench-client.json');
      const otherClientFile = join(data, 'bench-client-2.json');
      await child(['bench/client-child.ts', join(data, 'flatfhir.sqlite'), tenant, clientFile]);
      await child(['bench/client-child.ts', join(data, 'flatfhir.sqlite'), tenant, otherClientFile]);
      const server = await startServer(data);
      try {
        await measure('embedded (SQLite, local files, in-process workers)', server.origin, clientFile, otherClientFile, [{ name: 'server', proc: server.proc }]);
      } finally {
        await stop(server.proc);
      }
    }
    const clientFile = join(work, 'pg-client.json');
    const otherClientFile = join(work, 'pg-client-2.json');
    await child(['bench/client-child.ts', databaseUrl, tenant, clientFile]);
    await child(['bench/client-child.ts', databaseUrl, tenant, otherClientFile]);
    for (const workers of [1, 2]) {
      const pgPrefix = `flatfhir-bench-${process.pid}-${workers}`;
      // Each process's connections named, so their backends' CPU time can be told apart.
      const url = (role: string): string => `${databaseUrl}&application_name=${pgPrefix}-${role}`;
      const storage = ['--storage', `s3://flatfhir-bench/run-${workers}`, '--s3-endpoint', s3.endpoint, '--s3-path-style'];
      const env = { FLATFHIR_S3_ACCESS_KEY_ID: s3.credentials.accessKeyId, FLATFHIR_S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey, FLATFHIR_MONITORING_PORT: '0' };
      const api = await startServer(join(work, `api-${workers}`), env, ['--database-url', url('api'), ...storage, '--no-workers']);
      const pool = await Promise.all(
        Array.from({ length: workers }, (_, i) => startProcess(['worker', '--data', join(work, `worker-${workers}-${i}`), '--database-url', url(`worker${i}`), ...storage], env)),
      );
      try {
        await measure(
          `PostgreSQL + S3, ${workers} worker process${workers > 1 ? 'es' : ''}`,
          api.origin,
          clientFile,
          otherClientFile,
          [{ name: 'API node', proc: api.proc }, ...pool.map((w, i) => ({ name: `worker ${i + 1}`, proc: w.proc }))],
          pgPrefix,
        );
      } finally {
        await Promise.all([api, ...pool].map((p) => stop(p.proc)));
      }
    }
    const rate = (r: ScaleRun): number => r.e2e.resources / r.e2e.seconds;
    const embedded = runs[0] as ScaleRun;
    console.log(`\nexport throughput, Group export of all ${fmt(n)} patients (${fmt(embedded.e2e.resources)} resources, ${mb(embedded.e2e.bytes)}), kick-off → every file downloaded`);
    console.log(`  raw baseline (SQLite store → one file, one thread): ${fmt(raw.resources / raw.seconds)} resources/s`);
    console.log('  (every process shares the same cores: the s3rver and PostgreSQL included; CPU per resource counts them all)');
    for (const r of runs) {
      const total = r.cpu.reduce((t, x) => t + x.seconds, 0);
      console.log(`  ${r.setup.padEnd(52)} ${fmt(rate(r)).padStart(9)} resources/s, ${fmt(r.e2e.bytes / r.e2e.seconds / 1e6, 1)} MB/s (${fmt(r.e2e.seconds, 2)} s; job complete after ${fmt(r.e2e.completed, 2)} s), ${fmt((rate(r) / rate(embedded)) * 100)}% of embedded`);
      console.log(
        `  ${''.padEnd(52)} kick-off: first after start ${fmt(r.e2e.kickoffMs)} ms; system export median ${fmt(r.kickoffs.system.median, 1)} ms (max ${fmt(r.kickoffs.system.max, 1)}), ` +
          `Group export median ${fmt(r.kickoffs.group.median, 1)} ms (max ${fmt(r.kickoffs.group.max, 1)}), during another job's planning median ${fmt(r.kickoffs.duringPlanning.median, 1)} ms (max ${fmt(r.kickoffs.duringPlanning.max, 1)})`,
      );
      console.log(`  ${''.padEnd(52)} peak RSS: ${r.rss.map((x) => `${x.name} ${mb(x.bytes)}`).join(', ')}`);
      console.log(`  ${''.padEnd(52)} CPU during the export: ${r.cpu.map((x) => `${x.name} ${fmt(x.seconds, 1)} s`).join(', ')}`);
      console.log(`  ${''.padEnd(52)} CPU per resource: ${fmt((total / r.e2e.resources) * 1e6, 1)} µs in all (${r.cpu.map((x) => `${x.name} ${fmt((x.seconds / r.e2e.resources) * 1e6, 1)}`).join(', ')})`);
    }
  } finally {
    await stop(s3.proc);
    await rm(work, { recursive: true, force: true });
  }
}

interface PollFigures {
  /** Kick-off to the job's completion, as the store recorded it. */
  exportSeconds: number;
  polls: number;
  latenciesMs: number[];
  retryAfter: Set<string>;
}

/** One GET of a status URL over a keep-alive agent; resolves with the status code and Retry-After. */
function poll(url: string, headers: Record<string, string>, agent: http.Agent): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers, agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/**
 * Kicks off a Group export of every patient and runs `pollers` concurrent pollers on its status URL until the
 * store records the job complete. `mode`: 'fixed' polls every 100 ms whatever the server advises; 'advised'
 * waits the advised Retry-After between polls.
 */
async function pollScenario(origin: string, token: string, data: string, pollers: number, mode: 'fixed' | 'advised'): Promise<PollFigures> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(join(data, 'flatfhir.sqlite'), { readonly: true, fileMustExist: true });
  const headers = { authorization: `Bearer ${token}`, accept: 'application/json' };
  const agent = new http.Agent({ keepAlive: true, maxSockets: pollers + 1 });
  try {
    const kick = await fetch(`${origin}/r4/bench/Group/all-patients/$export`, { headers: { ...headers, accept: 'application/fhir+json', prefer: 'respond-async' } });
    if (kick.status !== 202) throw new Error(`kick-off failed: ${kick.status} ${await kick.text()}`);
    const statusUrl = kick.headers.get('content-location') as string;
    const jobId = statusUrl.split('/').pop() as string;
    const job = db.prepare('SELECT created_at, completed_at, status FROM jobs WHERE id = ?');
    const finished = (): { created_at: number; completed_at: number | null; status: string } =>
      job.get(jobId) as { created_at: number; completed_at: number | null; status: string };
    let done = false;
    const latenciesMs: number[] = [];
    const retryAfter = new Set<string>();
    const loops = Array.from({ length: pollers }, async () => {
      // Staggered start, so the pollers do not move in lockstep.
      await new Promise((r) => setTimeout(r, Math.random() * 100));
      while (!done) {
        const t0 = process.hrtime.bigint();
        const r = await poll(statusUrl, headers, agent);
        latenciesMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (r.retryAfter) retryAfter.add(r.retryAfter);
        if (r.status !== 202) break;
        const wait = mode === 'fixed' ? 100 : Number(r.retryAfter ?? 1) * 1000;
        await new Promise((res) => setTimeout(res, wait));
      }
    });
    for (;;) {
      const row = finished();
      if (row.status !== 'in-progress') {
        if (row.status !== 'completed' || row.completed_at === null) throw new Error(`the export ended ${row.status}`);
        done = true;
        await Promise.all(loops);
        await fetch(statusUrl, { method: 'DELETE', headers });
        return { exportSeconds: (row.completed_at - row.created_at) / 1000, polls: latenciesMs.length, latenciesMs, retryAfter };
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    agent.destroy();
    db.close();
  }
}

async function benchPolls(n: number, pollers: number): Promise<void> {
  const data = await exportData(n);
  const { proc, origin } = await startServer(data);
  try {
    const clientFile = join(data, 'bench-client.json');
    await child(['bench/client-child.ts', join(data, 'flatfhir.sqlite'), 'bench', clientFile]);
    const t = await token(origin, 'bench', clientFile);
    await pollScenario(origin, t, data, 1, 'fixed'); // warm-up
    const alone = await pollScenario(origin, t, data, 1, 'fixed');
    const fixed = await pollScenario(origin, t, data, pollers, 'fixed');
    const advised = await pollScenario(origin, t, data, pollers, 'advised');
    const line = (name: string, f: PollFigures): string => {
      const sorted = [...f.latenciesMs].sort((a, b) => a - b);
      return `  ${name.padEnd(44)} export ${fmt(f.exportSeconds, 2)} s (${fmt(f.exportSeconds / alone.exportSeconds, 2)}× alone), ${fmt(f.polls)} polls, p50 ${fmt(percentile(sorted, 50), 1)} ms, p99 ${fmt(percentile(sorted, 99), 1)} ms, Retry-After ${[...f.retryAfter].sort((a, b) => Number(a) - Number(b)).join(',') || '-'}`;
    };
    console.log(`\nstatus polls during a Group export of ${fmt(n)} patients`);
    console.log(line('baseline: one poller every 100 ms', alone));
    console.log(line(`${pollers} pollers every 100 ms (ignoring Retry-After)`, fixed));
    console.log(line(`${pollers} pollers honouring Retry-After`, advised));
  } finally {
    proc.kill('SIGTERM');
  }
}

interface ViewFigures {
  resources: number;
  rows: number;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  maxRssBytes: number;
  engine?: string;
  threads?: number;
}

async function benchViews(n: number): Promise<void> {
  const data = await exportData(n);
  const db = join(data, 'flatfhir.sqlite');
  const { LIBRARY_VIEWS } = await import('../src/views/library.js');
  const runs: [string, string][] = [...LIBRARY_VIEWS.map((v) => [v.name as string, 'csv'] as [string, string]), ['observations', 'parquet']];
  console.log(`\nSQL on FHIR views over ${fmt(n)} generated patients (each in its own process; raw = the NDJSON export of the same type, run just before)`);
  const raws = new Map<string, ViewFigures>();
  for (const [name, format] of runs) {
    const resource = LIBRARY_VIEWS.find((v) => v.name === name)?.resource as string;
    // The raw export right before each view, so that both meet the same load on a shared machine.
    const raw = await child<ViewFigures>(['bench/views-child.mjs', 'raw', db, 'bench', resource]);
    raws.set(resource, raw);
    const v = await child<ViewFigures>(['bench/views-child.mjs', 'view', db, 'bench', name, format]);
    const rawRate = raw.resources / raw.seconds;
    const rate = v.resources / v.seconds;
    console.log(
      `  ${`${name} (${format})`.padEnd(32)} ${fmt(v.rows / v.seconds).padStart(9)} rows/s ${fmt(rate).padStart(9)} resources/s ` +
        `(${fmt(v.rows)} rows from ${fmt(v.resources)} ${resource}, ${mb(v.bytes)}, ${fmt(v.seconds, 2)} s, ${v.engine} engine, ${v.threads} threads), ` +
        `raw NDJSON ${fmt(rawRate)} resources/s: ${fmt((rate / rawRate) * 100)}%, peak RSS ${mb(v.maxRssBytes)} (raw ${mb(raw.maxRssBytes)}), ` +
        `CPU ${fmt(v.cpuSeconds, 1)} s (raw ${fmt(raw.cpuSeconds, 1)} s)`,
    );
  }
  // Through the server, on the export engine (chunks on its worker threads): $sql-export of the observation view
  // against the bulk $export of the same Observations, the same Group.
  const { proc, origin } = await startServer(data);
  try {
    const clientFile = join(data, 'bench-client.json');
    await child(['bench/client-child.ts', db, 'bench', clientFile]);
    const observations = (raws.get('Observation') as ViewFigures).resources;
    const pid = proc.pid as number;
    const cpu0 = await cpuSeconds(pid);
    const sql = await sqlExportEndToEnd(origin, 'bench', 'observations', 'all-patients', 'csv', clientFile);
    const cpu1 = await cpuSeconds(pid);
    const sqlRss = await peakRss(pid);
    const bulk = await exportEndToEnd(origin, 'bench', 'Group/all-patients/$export?_type=Observation', clientFile);
    const cpu2 = await cpuSeconds(pid);
    const bulkRate = bulk.resources / bulk.seconds;
    const sqlRate = observations / sql.seconds;
    console.log(`  end to end through the server, Group of all ${fmt(n)} patients, kick-off → every file downloaded:`);
    console.log(`    bulk $export?_type=Observation (NDJSON): ${fmt(bulkRate)} resources/s (${fmt(bulk.resources)} in ${bulk.files} files, ${mb(bulk.bytes)}, ${fmt(bulk.seconds, 2)} s, server CPU ${fmt(cpu2 - cpu1, 1)} s)`);
    console.log(`    $sql-export observations (CSV):          ${fmt(sqlRate)} resources/s (${sql.files} files, ${mb(sql.bytes)}, ${fmt(sql.seconds, 2)} s, server CPU ${fmt(cpu1 - cpu0, 1)} s): ${fmt((sqlRate / bulkRate) * 100)}% of the bulk export`);
    console.log(`    server peak RSS after the $sql-export:   ${mb(sqlRss)}`);
  } finally {
    proc.kill('SIGTERM');
  }
}

/** $sql-export of one stored or shipped view over a Group: kick-off → 303 → result → every part downloaded. */
async function sqlExportEndToEnd(origin: string, tenant: string, view: string, group: string, format: string, clientFile: string): Promise<{ bytes: number; seconds: number; files: number; completed: number }> {
  const t = await token(origin, tenant, clientFile);
  const headers = { authorization: `Bearer ${t}` };
  const started = Date.now();
  const kick = await fetch(`${origin}/r4/${tenant}/$sql-export`, {
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/fhir+json', prefer: 'respond-async' },
    body: JSON.stringify({
      resourceType: 'Parameters',
      parameter: [
        { name: 'subject', part: [{ name: 'subjectReference', valueReference: { reference: `ViewDefinition/${view}` } }] },
        { name: 'group', valueReference: { reference: `Group/${group}` } },
        { name: '_format', valueCode: format },
      ],
    }),
  });
  if (kick.status !== 202) throw new Error(`$sql-export kick-off failed: ${kick.status} ${await kick.text()}`);
  const statusUrl = kick.headers.get('content-location') as string;
  for (;;) {
    const r = await fetch(statusUrl, { headers, redirect: 'manual' });
    await r.arrayBuffer();
    if (r.status === 303) break;
    if (r.status !== 202) throw new Error(`status failed: ${r.status}`);
    await new Promise((res) => setTimeout(res, 100));
  }
  const completed = (Date.now() - started) / 1000;
  const manifest = (await (await fetch(`${statusUrl}/result`, { headers })).json()) as { parameter: { name: string; part?: { name: string; valueUri?: string }[] }[] };
  const urls = manifest.parameter.filter((p) => p.name === 'output').flatMap((p) => (p.part ?? []).filter((x) => x.name === 'location').map((x) => x.valueUri as string));
  let bytes = 0;
  const queue = [...urls];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let u = queue.shift(); u; u = queue.shift()) {
        const redirect = await fetch(u, { headers, redirect: 'manual' });
        const n = await drain(redirect.headers.get("location") as string);
        bytes += n;
      }
    }),
  );
  await fetch(statusUrl, { method: 'DELETE', headers });
  return { bytes, seconds: (Date.now() - started) / 1000, files: urls.length, completed };
}

interface GroupFigures {
  patients: number;
  resources: number;
  loadSeconds: number;
  members: number;
  indexedMs: number;
  scanMs: number;
}

async function benchGroups(sizes: number[]): Promise<void> {
  console.log('\ndynamic group evaluation: Encounter?status=finished&date=ge-7d&reason-code=… and Condition?code=…');
  for (const n of sizes) {
    const dir = await mkdtemp(join(tmpdir(), 'flatfhir-bench-groups-'));
    try {
      const f = await child<GroupFigures>(['bench/groups-child.ts', String(n), dir]);
      console.log(
        `  ${fmt(f.patients).padStart(7)} patients (${fmt(f.resources)} resources, written in ${fmt(f.loadSeconds, 1)} s): ${fmt(f.members)} members; ` +
          `search-value index ${fmt(f.indexedMs, 1)} ms, baseline (read and parse every Encounter and Condition) ${fmt(f.scanMs, 1)} ms (${fmt(f.scanMs / f.indexedMs, 1)}×)`,
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

const which = positionals[0] ?? 'all';
{
  // The import child and the server run the compiled build, as users run them.
  const build = spawn('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
  if ((await new Promise<number | null>((r) => build.on('exit', r))) !== 0) throw new Error('npm run build failed');
}
if (which === 'import' || which === 'all') await benchImport(patients);
if (which === 'export' || which === 'all') await benchExport(patients);
if (which === 'synthea') await benchSynthea(copies);
if (which === 'polls') await benchPolls(patients, Number(values.pollers));
if (which === 'scale') await benchScale(patients);
if (which === 'prepare') await exportData(patients);
if (which === 'views') await benchViews(patients);
if (which === 'groups') await benchGroups(process.argv.includes('--patients') ? [patients] : [10_000, 100_000]);
if (!['import', 'export', 'synthea', 'polls', 'scale', 'groups', 'prepare', 'views', 'all'].includes(which)) {
  console.error(`unknown benchmark "${which}": use import, export, synthea, polls, scale, groups, prepare, views or all`);
  process.exit(2);
}
