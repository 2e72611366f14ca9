/**
 * `organizeOutputBy=Patient`: output as patient blocks. Each block is a header `Parameters` resource naming the
 * patient, then the patient's compartment (the Patient, then each exported clinical type; a resource in several
 * patients' compartments is in each of their blocks), then the Location, Organization and Practitioner the block's
 * resources reference, then the Provenance targeting them. A chunk is a run of patients; blocks are streamed
 * one patient at a time (a block's memory is its set of referenced ids, never the population or the block's
 * rows). A block that reaches a file bound continues in the chunk's next file, which starts with the header again;
 * the file it left is marked so the manifest gives it `continuesInFile`.
 */
import { Readable } from 'node:stream';
import { isClinicalType, isReferenceType } from '../fhir/resource-types.js';
import type { ExportChunk, ExportJob, StoredResource } from '../store/ports.js';
import type { ExportParams } from './kickoff.js';
import type { Slice } from './planner.js';
import { type ChunkFile, objectPrefix, outcomeLine, provenanceOfFiltered, type RunChunkDeps, lineName, withinFileSize } from './runner.js';
import { transformFor } from './transform.js';

/** The header line of a patient's block. */
export const blockHeader = (patientId: string): string =>
  `{"resourceType":"Parameters","parameter":[{"name":"header","valueReference":{"reference":"Patient/${patientId}"}}]}`;

/** The id suffix of a block file whose last block continues in the next file of its chunk. */
const CONTINUES = '-continues';
export const continuesInNextPart = (file: { id: string }): boolean => file.id.endsWith(CONTINUES);

interface BlockLine {
  patient: string;
  line: string;
}

/** Every line of the blocks of `patients`, in order, in batches (a block with no resource is left out). */
async function* blockLines(
  deps: RunChunkDeps,
  job: ExportJob,
  params: ExportParams,
  slice: Extract<Slice, { mode: 'blocks' }>,
  until: number,
  errors: string[],
): AsyncIterable<BlockLine[]> {
  const patients = slice.patients;
  const since = params.since !== undefined ? { since: params.since } : {};
  const transforms = new Map<string, ((json: string) => string | null) | null>();
  const transform = async (type: string): Promise<((json: string) => string | null) | null> => {
    if (!transforms.has(type)) {
      transforms.set(
        type,
        await transformFor(type, {
          fhirBase: params.fhirBase ?? '',
          ...(params.elements ? { elements: params.elements } : {}),
          ...(params.typeFilters[type] ? { typeFilters: params.typeFilters[type] } : {}),
        }),
      );
    }
    return transforms.get(type) ?? null;
  };
  const toLines = async (patient: string, batch: StoredResource[]): Promise<BlockLine[]> => {
    const out: BlockLine[] = [];
    for (const r of batch) {
      if (r.json === null) continue;
      const t = await transform(r.type);
      try {
        const line = t ? t(r.json) : r.json;
        if (line !== null) out.push({ patient, line });
      } catch (e) {
        errors.push(`${r.type}/${r.id} could not be exported: ${(e as Error).message}`);
      }
    }
    return out;
  };
  // Provenance may target any exported clinical type; only those with rows in the job's compartments are scanned.
  const sourceTypes = params.types.filter(isClinicalType);
  const clinical = (slice.types ?? sourceTypes).filter((t) => sourceTypes.includes(t)).sort((a, b) => (a === 'Patient' ? -1 : b === 'Patient' ? 1 : 0));
  const referenceTypes = params.types.filter(isReferenceType);
  const patterns = new Map(referenceTypes.map((t) => [t, new RegExp(`"reference":"(?:[^"]*/)?${t}/([A-Za-z0-9\\-.]{1,64})(?:/_history/[^"]*)?"`, 'g')]));
  const filtered = Object.keys(params.typeFilters).length > 0;

  for (const patient of patients) {
    await deps.checkCancelled();
    const referenced = new Map<string, Set<string>>(referenceTypes.map((t) => [t, new Set<string>()]));
    for (const type of clinical) {
      for await (const batch of deps.resources.scan({
        tenant: job.tenant,
        type,
        until,
        ...since,
        patients: { jobId: job.id, from: patient, to: patient, everyCompartment: true },
      })) {
        const lines = await toLines(patient, batch);
        for (const { line } of lines) {
          for (const [t, pattern] of patterns) {
            if (!line.includes(`${t}/`)) continue;
            for (const m of line.matchAll(pattern)) referenced.get(t)?.add(m[1] as string);
          }
        }
        if (lines.length > 0) yield lines;
      }
    }
    // The shared resources the block's resources reference (as of the snapshot; with _since, those changed since).
    for (const [type, wanted] of referenced) {
      const rows: StoredResource[] = [];
      for (const id of [...wanted].sort()) {
        const r = await deps.resources.readAt(job.tenant, type, id, until);
        if (!r || r.deleted || !r.json || (params.since !== undefined && r.lastUpdated <= params.since)) continue;
        rows.push(r);
      }
      const lines = await toLines(patient, rows);
      if (lines.length > 0) yield lines;
    }
    if (params.types.includes('Provenance')) {
      let rows: AsyncIterable<StoredResource[]> = deps.resources.scanReferenced({
        tenant: job.tenant,
        type: 'Provenance',
        until,
        ...since,
        sourceTypes,
        jobId: job.id,
        patients: { from: patient, to: patient },
        ...(params.provenance === 'latest' ? { latestOnly: true } : {}),
      });
      if (filtered) rows = provenanceOfFiltered(deps.resources, job.tenant, until, params.typeFilters, rows);
      for await (const batch of rows) {
        const lines = await toLines(patient, batch);
        if (lines.length > 0) yield lines;
      }
    }
  }
}

/**
 * Runs a chunk of patient blocks into NDJSON files bounded by lines and bytes (a part always holds at least one
 * resource after its header), named by (job, chunk, part) as other chunks' files are.
 */
export async function runBlocksChunk(deps: RunChunkDeps, job: ExportJob, chunk: ExportChunk, until: number): Promise<{ files: ChunkFile[]; count: number }> {
  const params = job.params as ExportParams;
  const slice = chunk.slice as Extract<Slice, { mode: 'blocks' }>;
  const errors: string[] = [];
  const files: ChunkFile[] = [];
  const seq = String(chunk.seq).padStart(4, '0');
  const fileBase = `${job.id}-${chunk.type}-${seq}`;
  let lines: AsyncIterable<BlockLine[]> = blockLines(deps, job, params, slice, until, errors);
  if (params.maxFileSize !== undefined) {
    // A part holds the header and at least one resource: both must fit.
    lines = withinFileSize(lines, deps.limits.maxFileBytes, errors, (item: BlockLine) => ({
      bytes: Buffer.byteLength(item.line) + Buffer.byteLength(blockHeader(item.patient)) + 2,
      what: lineName(item.line),
    }));
  }
  const source = lines[Symbol.asyncIterator]();
  let pending: BlockLine[] = [];
  let exhausted = false;
  const peek = async (): Promise<BlockLine | undefined> => {
    while (pending.length === 0 && !exhausted) {
      const r = await source.next();
      if (r.done) exhausted = true;
      else pending = r.value;
    }
    return pending[0];
  };

  let total = 0;
  let part = 0;
  /** The patient whose block the last written line belongs to. */
  let current: string | undefined;
  try {
    while (await peek()) {
      let lines = 0;
      let bytes = 0;
      let content = 0;
      let continues = false;
      const body = async function* (): AsyncIterable<Buffer> {
        let out: string[] = [];
        for (let item = await peek(); item; item = await peek()) {
          const needsHeader = content === 0 || item.patient !== current;
          const header = needsHeader ? blockHeader(item.patient) : '';
          const add = (needsHeader ? Buffer.byteLength(header) + 1 : 0) + Buffer.byteLength(item.line) + 1;
          const addLines = needsHeader ? 2 : 1;
          if (content > 0 && (lines + addLines > deps.limits.maxFileResources || bytes + add > deps.limits.maxFileBytes)) {
            continues = item.patient === current;
            break;
          }
          if (needsHeader) out.push(header);
          out.push(item.line);
          pending.shift();
          current = item.patient;
          lines += addLines;
          bytes += add;
          content++;
          if (out.length >= 500) {
            deps.onProgress?.(out.filter((l) => !l.startsWith('{"resourceType":"Parameters"')).length);
            yield Buffer.from(`${out.join('\n')}\n`);
            out = [];
          }
        }
        if (out.length > 0) {
          deps.onProgress?.(out.filter((l) => !l.startsWith('{"resourceType":"Parameters"')).length);
          yield Buffer.from(`${out.join('\n')}\n`);
        }
      };
      const key = `${objectPrefix(job.id)}${seq}-${part}.blocks.ndjson`;
      const written = await deps.storage.put(key, body());
      const id = `${fileBase}-${part}${continues ? CONTINUES : ''}`;
      // `count` is of resources, headers left out (as the SMART reference client counts them).
      files.push({ id, kind: 'output', type: chunk.type, part, objectKey: key, count: content, bytes: written.bytes });
      total += content;
      part++;
    }
  } finally {
    await source.return?.();
  }
  if (errors.length > 0) {
    const key = `${objectPrefix(job.id)}${seq}-errors.ndjson`;
    const written = await deps.storage.put(key, Readable.from([`${errors.map((e) => outcomeLine('error', 'processing', e)).join('\n')}\n`]));
    files.push({ id: `${fileBase}-errors`, kind: 'error', type: 'OperationOutcome', part, objectKey: key, count: errors.length, bytes: written.bytes });
  }
  return { files, count: total };
}
