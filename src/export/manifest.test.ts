import { describe, expect, it } from 'vitest';
import type { ExportChunk, ExportFile, ExportJob } from '../store/ports.js';
import type { ExportParams } from './kickoff.js';
import { type Manifest, manifestPage, type PageView } from './manifest.js';

const job = (status: ExportJob['status']): ExportJob => ({
  id: 'job-1',
  tenant: 't',
  clientId: 'c',
  kind: 'system',
  status,
  request: 'http://x/r4/t/$export',
  requestHash: '',
  params: {},
  transactionTime: 0,
  createdAt: 0,
  completedAt: null,
  expiresAt: 1,
  totalResources: 0,
  doneResources: 0,
  error: null,
});
const params: ExportParams = { kind: 'system', types: ['Patient'], outputFormat: 'ndjson', typeFilters: {}, provenance: null, warnings: ['w'], allowPartialManifests: true };
const urls = { file: (f: ExportFile) => `F/${f.id}`, page: (k: number) => `P/${k}` };

/** Chunk 0 plans, chunk 1 has the warnings, chunks 2..8 write `parts[i]` output files each (and chunk 5 an error file). */
const parts = [3, 1, 0, 2, 4, 1, 2];
const chunkFiles = (seq: number): ExportFile[] => {
  if (seq === 1) return [{ id: 'warn', jobId: 'job-1', chunkSeq: 1, kind: 'error', type: 'OperationOutcome', part: 0, objectKey: '', count: 1, bytes: 1 }];
  const n = parts[seq - 2] ?? 0;
  const files: ExportFile[] = Array.from({ length: n }, (_, part) => ({
    id: `${seq}-${part}`,
    jobId: 'job-1',
    chunkSeq: seq,
    kind: 'output',
    type: 'Patient',
    part,
    objectKey: '',
    count: 5,
    bytes: 10,
  }));
  if (seq === 5) files.push({ id: `${seq}-errors`, jobId: 'job-1', chunkSeq: seq, kind: 'error', type: 'OperationOutcome', part: n, objectKey: '', count: 1, bytes: 1 });
  // An empty part is never listed.
  if (seq === 4) files.push({ id: `${seq}-empty`, jobId: 'job-1', chunkSeq: seq, kind: 'output', type: 'Patient', part: 0, objectKey: '', count: 0, bytes: 0 });
  return files;
};
const SEQS = [0, 1, 2, 3, 4, 5, 6, 7, 8];
const chunk = (seq: number, done: boolean): ExportChunk => ({
  jobId: 'job-1',
  seq,
  type: seq === 1 ? 'OperationOutcome' : 'Patient',
  slice: { mode: seq === 0 ? 'plan' : seq === 1 ? 'warnings' : 'ids' },
  status: done ? 'done' : 'pending',
  attempts: 0,
  leaseUntil: null,
  count: 0,
  error: null,
});

function view(done: Set<number>, status: ExportJob['status'], page: number, pageSize = 3): PageView {
  return manifestPage({
    job: job(status),
    params,
    files: SEQS.filter((s) => done.has(s)).flatMap(chunkFiles),
    chunks: SEQS.map((s) => chunk(s, done.has(s))),
    pageSize,
    page,
    urls,
  });
}

const withoutLink = (m: Manifest): Manifest => {
  const { link: _link, ...rest } = m;
  return rest;
};

describe('manifest pages', () => {
  it('never change once returned (but for an added link) while chunks complete in any order; their union is every file once', () => {
    for (const order of [
      [0, 1, 2, 3, 4, 5, 6, 7, 8],
      [0, 1, 8, 7, 6, 5, 4, 3, 2],
      [0, 4, 2, 1, 6, 3, 8, 5, 7],
    ]) {
      const done = new Set<number>();
      const seen = new Map<number, Manifest>();
      const observe = (status: ExportJob['status']): void => {
        for (let page = 0; page < 10; page++) {
          const v = view(done, status, page);
          if (v.state !== 'page') continue;
          const before = seen.get(page);
          if (before) {
            expect(withoutLink(v.manifest)).toEqual(withoutLink(before));
            if (before.link) expect(v.manifest.link).toEqual(before.link);
          } else {
            seen.set(page, v.manifest);
          }
        }
      };
      for (const seq of order) {
        done.add(seq);
        observe('in-progress');
      }
      observe('completed');
      const pages = [...seen.keys()].sort((a, b) => a - b);
      expect(pages).toEqual(pages.map((_, i) => i));
      const final = pages.map((k) => (view(done, 'completed', k) as { manifest: Manifest }).manifest);
      // Linked in order, the last without a link.
      final.forEach((m, k) => expect(m.link).toEqual(k + 1 < final.length ? [{ relation: 'next', url: `P/${k + 1}` }] : undefined));
      expect(view(done, 'completed', final.length).state).toBe('absent');
      const outputs = final.flatMap((m) => m.output.map((o) => o.url));
      const expected = SEQS.flatMap(chunkFiles).filter((f) => f.kind === 'output' && f.count > 0).map((f) => `F/${f.id}`);
      expect(outputs).toEqual(expected);
      for (const m of final) {
        expect(m.output.length).toBeLessThanOrEqual(3);
        // The lenient warnings are on every page.
        expect(m.error.map((e) => e.url)).toContain('F/warn');
      }
      expect(final.flatMap((m) => m.error.map((e) => e.url)).filter((u) => u === 'F/5-errors')).toHaveLength(1);
    }
  });

  it('answer pending for the next page while the job runs, and failed once it failed', () => {
    const done = new Set([0, 1, 2]);
    const first = view(done, 'in-progress', 0);
    expect(first.state).toBe('page');
    expect((first as { manifest: Manifest }).manifest.link).toEqual([{ relation: 'next', url: 'P/1' }]);
    expect(view(done, 'in-progress', 1).state).toBe('pending');
    expect(view(done, 'in-progress', 2).state).toBe('absent');
    expect(view(done, 'failed', 0).state).toBe('page');
    expect(view(done, 'failed', 1).state).toBe('failed');
    expect(view(new Set([0, 1]), 'failed', 0).state).toBe('failed');
  });

  it('end with an empty last page when the files fill the pages exactly (the page before already linked to it)', () => {
    const done = new Set(SEQS);
    const total = SEQS.flatMap(chunkFiles).filter((f) => f.kind === 'output' && f.count > 0).length;
    const last = view(done, 'completed', total, 1);
    expect(last.state).toBe('page');
    expect((last as { manifest: Manifest }).manifest.output).toEqual([]);
    expect((view(done, 'completed', total - 1, 1) as { manifest: Manifest }).manifest.link).toEqual([{ relation: 'next', url: `P/${total}` }]);
  });
});
