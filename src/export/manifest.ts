/**
 * The output manifest: whole (v2, and v3 without `allowPartialManifests`), or in pages (v3 partial manifests).
 *
 * Pages are cut deterministically from what is committed, so a page once returned never changes: the files of
 * the job's chunks are taken in (chunk, part) order, but only from the chunks before the first chunk not done
 * yet; page k holds the output and deleted files numbered kP+1 … (k+1)P among them (P, the page size), with the
 * error files that fall between. A page is "sealed" as soon as its last file is committed; while the job runs,
 * a sealed page links to the next one (which answers 202 until it is sealed in turn). When the job completes
 * the remainder makes the last page (possibly empty, when an earlier page already linked to it), without a link.
 * A failed job keeps its sealed pages and answers an OperationOutcome on the next link.
 *
 * Every page carries the same `error` array as the IG asks, with one exception: lenient-handling warnings are
 * known at kick-off (their chunk runs first) and are on every page; the rare per-resource processing errors a
 * chunk may report are listed on the page holding that chunk's files, as they are unknown when earlier pages go out.
 */
import type { ExportChunk, ExportFile, ExportJob } from '../store/ports.js';
import { continuesInNextPart } from './blocks.js';
import type { ExportParams } from './kickoff.js';
import type { Slice } from './planner.js';

export interface ManifestItem {
  type?: string;
  url: string;
  count?: number;
  /** STU4 (ballot): the file's size in bytes, on every item. */
  fileSize?: number;
  continuesInFile?: string;
}

export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: true;
  outputOrganizedBy?: string;
  output: ManifestItem[];
  error: ManifestItem[];
  deleted?: ManifestItem[];
  link?: { relation: 'next'; url: string }[];
  extension?: Record<string, unknown>;
}

export interface ManifestUrls {
  file(f: ExportFile): string;
  page(k: number): string;
}

const isListed = (f: ExportFile): boolean => f.kind === 'error' || f.count > 0;

/** `all`: every file of the job known, to find the file a patient block continues in. */
function items(files: ExportFile[], params: ExportParams, urls: ManifestUrls, kind: ExportFile['kind'], all: ExportFile[]): ManifestItem[] {
  const parts = params.organizeOutputBy ? new Map(all.filter((f) => f.kind === 'output').map((f) => [`${f.chunkSeq}:${f.part}`, f])) : undefined;
  return files
    .filter((f) => f.kind === kind && isListed(f))
    .map((f) => {
      if (kind === 'error') return { type: 'OperationOutcome', url: urls.file(f), fileSize: f.bytes };
      if (kind === 'deleted') return { type: 'Bundle', url: urls.file(f), count: f.count, fileSize: f.bytes };
      if (!parts) return { type: f.type, url: urls.file(f), count: f.count, fileSize: f.bytes };
      // Organized output: no type (a file holds blocks of many types); where the last block goes on.
      const item: ManifestItem = { url: urls.file(f), count: f.count, fileSize: f.bytes };
      const next = continuesInNextPart(f) ? parts.get(`${f.chunkSeq}:${f.part + 1}`) : undefined;
      if (next) item.continuesInFile = urls.file(next);
      return item;
    });
}

function manifestOf(job: ExportJob, params: ExportParams, files: ExportFile[], errors: ExportFile[], urls: ManifestUrls, all: ExportFile[]): Manifest {
  const manifest: Manifest = {
    transactionTime: new Date(job.transactionTime).toISOString(),
    request: job.request,
    requiresAccessToken: true,
    ...(params.organizeOutputBy ? { outputOrganizedBy: params.organizeOutputBy } : {}),
    output: items(files, params, urls, 'output', all),
    error: items(errors, params, urls, 'error', all),
  };
  if (params.since !== undefined) manifest.deleted = items(files, params, urls, 'deleted', all);
  const extension = manifestExtension(params);
  if (extension) manifest.extension = extension;
  return manifest;
}

/** The manifest extension's key for the group a Group export read. */
export const GROUP_EXTENSION = 'urn:flatfhir:manifest:group';

/**
 * What flatfhir has to say beyond the IG's fields: for a Group export, the version of the group it read (as of
 * the snapshot) and how many active members that version had, so a client can tell which member set it got.
 */
function manifestExtension(params: ExportParams): Record<string, unknown> | undefined {
  if (!params.group || params.groupId === undefined) return undefined;
  return { [GROUP_EXTENSION]: { reference: `Group/${params.groupId}/_history/${params.group.versionId}`, activeMembers: params.group.members } };
}

/** The whole manifest of a completed job. */
export function wholeManifest(job: ExportJob, params: ExportParams, files: ExportFile[], urls: ManifestUrls): Manifest {
  return manifestOf(job, params, files, files, urls, files);
}

export type PageView =
  /** The page, with whether the job still runs (202) or has ended (200). */
  | { state: 'page'; manifest: Manifest; running: boolean }
  /** Not sealed yet: answer in progress. */
  | { state: 'pending' }
  /** The job failed before this page was sealed. */
  | { state: 'failed' }
  /** No such page. */
  | { state: 'absent' };

export interface PageInput {
  job: ExportJob;
  params: ExportParams;
  files: ExportFile[];
  chunks: ExportChunk[];
  pageSize: number;
  page: number;
  urls: ManifestUrls;
}

/** Page `page` of a partial-manifest job as it stands (see the module comment). */
export function manifestPage(input: PageInput): PageView {
  const { job, params, chunks, pageSize, page, urls } = input;
  const warningSeqs = new Set(chunks.filter((c) => (c.slice as Slice).mode === 'warnings').map((c) => c.seq));
  const notDone = chunks.find((c) => c.status !== 'done');
  const doneBefore = job.status === 'completed' || notDone === undefined ? Number.POSITIVE_INFINITY : notDone.seq;
  const committed = [...input.files]
    .filter((f) => f.chunkSeq < doneBefore)
    .sort((a, b) => a.chunkSeq - b.chunkSeq || a.part - b.part || (a.kind === 'error' ? 1 : 0) - (b.kind === 'error' ? 1 : 0));
  const warnings = committed.filter((f) => warningSeqs.has(f.chunkSeq));
  const entries = committed.filter((f) => !warningSeqs.has(f.chunkSeq) && isListed(f));

  // Page boundaries: the index just after the ((k+1)·P)-th counted file.
  const pages: ExportFile[][] = [[]];
  let counted = 0;
  for (const f of entries) {
    const current = pages[pages.length - 1] as ExportFile[];
    current.push(f);
    if (f.kind !== 'error' && ++counted % pageSize === 0) pages.push([]);
  }
  // pages.length - 1 pages are full (sealed); the last is partial (or empty).
  const sealed = pages.length - 1;
  const completed = job.status === 'completed';
  const pageCount = completed ? pages.length : sealed;
  if (page < pageCount) {
    const files = pages[page] as ExportFile[];
    const manifest = manifestOf(job, params, files, [...warnings, ...files], urls, input.files);
    if (job.status !== 'completed' || page + 1 < pageCount) manifest.link = [{ relation: 'next', url: urls.page(page + 1) }];
    return { state: 'page', manifest, running: job.status === 'in-progress' };
  }
  if (page > pageCount) return { state: 'absent' };
  if (job.status === 'failed') return { state: 'failed' };
  if (job.status === 'in-progress') return { state: 'pending' };
  return { state: 'absent' };
}
