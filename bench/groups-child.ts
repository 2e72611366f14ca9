/**
 * Dynamic group evaluation, in a child process: writes N patients (each with three Encounters and two
 * Conditions) into a fresh SQLite store, then evaluates one cohort (a finished Encounter in the last week with a
 * reason code, and a Condition code) on the search-value index, and for a baseline by reading and parsing every
 * Encounter and Condition. Prints one JSON line of figures.
 *
 *   node --import tsx bench/groups-child.ts <patients> <dir>
 */
import { join } from 'node:path';
import { parseMemberFilter, resolveCriterion } from '../src/fhir/member-filter.js';
import { prepareResource } from '../src/fhir/prepare.js';
import type { PreparedResource } from '../src/fhir/resource.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';

const n = Number(process.argv[2]);
const dir = process.argv[3] as string;
const DAY = 86_400_000;
const AT = Date.UTC(2024, 4, 8, 6);
const REASONS = ['44054006', '38341003', '195662009', '10509002'];
const CODES = ['44054006', '38341003', '15777000', '271737000', '40055000'];
const TENANT = 'bench';

let seed = 42;
const random = (): number => {
  seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
  return seed / 2_147_483_648;
};
const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)] as T;

const store = openSqliteStore(join(dir, 'groups.sqlite'));
const started = Date.now();
let batch: PreparedResource[] = [];
const flush = async (): Promise<void> => {
  if (batch.length > 0) await store.resources.writeBatch(TENANT, batch);
  batch = [];
};
for (let i = 0; i < n; i++) {
  const pid = `p${String(i).padStart(7, '0')}`;
  batch.push(prepareResource({ resourceType: 'Patient', id: pid, gender: random() < 0.5 ? 'female' : 'male', birthDate: '1970-01-01' }));
  for (let e = 0; e < 3; e++) {
    const start = AT - Math.floor(random() * 120) * DAY;
    batch.push(
      prepareResource({
        resourceType: 'Encounter',
        id: `${pid}-e${e}`,
        status: random() < 0.8 ? 'finished' : 'in-progress',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
        period: { start: new Date(start).toISOString(), end: new Date(start + 3 * 3_600_000).toISOString() },
        reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: pick(REASONS) }] }],
        subject: { reference: `Patient/${pid}` },
      }),
    );
  }
  for (let c = 0; c < 2; c++) {
    batch.push(
      prepareResource({
        resourceType: 'Condition',
        id: `${pid}-c${c}`,
        code: { coding: [{ system: 'http://snomed.info/sct', code: pick(CODES) }] },
        subject: { reference: `Patient/${pid}` },
      }),
    );
  }
  if (batch.length >= 2000) await flush();
}
await flush();
const loadSeconds = (Date.now() - started) / 1000;

const criteria = ['Encounter?status=finished&date=ge-7d&reason-code=http://snomed.info/sct|44054006', 'Condition?code=http://snomed.info/sct|38341003'];
const resolved = criteria.map((c) => {
  const p = parseMemberFilter(c);
  if ('error' in p) throw new Error(p.error);
  return resolveCriterion(p.filter, AT);
});

const time = async <T>(fn: () => Promise<T>): Promise<{ ms: number; result: T }> => {
  const t = performance.now();
  const result = await fn();
  return { ms: performance.now() - t, result };
};
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

// The baseline: every Encounter and Condition read and parsed, the criteria checked in JavaScript.
async function baseline(): Promise<string[]> {
  const until = Number.MAX_SAFE_INTEGER;
  const weekAgo = AT - 7 * DAY;
  const enc = new Set<string>();
  for await (const rows of store.resources.scan({ tenant: TENANT, type: 'Encounter', until })) {
    for (const r of rows) {
      const e = JSON.parse(r.json as string) as { status: string; period: { end: string }; reasonCode: { coding: { code: string }[] }[]; subject: { reference: string } };
      if (e.status === 'finished' && Date.parse(e.period.end) >= weekAgo && e.reasonCode.some((rc) => rc.coding.some((c) => c.code === '44054006'))) enc.add(e.subject.reference.slice(8));
    }
  }
  const both = new Set<string>();
  for await (const rows of store.resources.scan({ tenant: TENANT, type: 'Condition', until })) {
    for (const r of rows) {
      const c = JSON.parse(r.json as string) as { code: { coding: { code: string }[] }; subject: { reference: string } };
      const p = c.subject.reference.slice(8);
      if (enc.has(p) && c.code.coding.some((x) => x.code === '38341003')) both.add(p);
    }
  }
  return [...both].sort();
}

const indexed: number[] = [];
const scanned: number[] = [];
let members = 0;
for (let i = 0; i < 3; i++) {
  const a = await time(() => store.cohorts.matchPatients(TENANT, resolved, 1_000_000));
  indexed.push(a.ms);
  const b = await time(baseline);
  scanned.push(b.ms);
  if (a.result.join() !== b.result.join()) throw new Error(`the index found ${a.result.length} members, the scan ${b.result.length}`);
  members = a.result.length;
}
await store.close();
console.log(JSON.stringify({ patients: n, resources: n * 6, loadSeconds, members, indexedMs: median(indexed), scanMs: median(scanned) }));
