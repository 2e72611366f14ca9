/**
 * The entry of a view evaluation thread (see parallel.ts): compiles the view it is given once, then turns each
 * batch of resources (JSON text) it receives into encoded rows, sent back as transferred bytes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { patientCompartment, patientCompartmentPaths } from '../fhir/compartment.js';
import { FhirError } from '../fhir/errors.js';
import type { FhirResource } from '../fhir/resource.js';
import { compileView, type ViewRow } from './evaluate.js';
import type { ThreadReply, ThreadRequest, ViewThreadData } from './parallel.js';
import { encodeRows } from './writers.js';

const data = workerData as ViewThreadData;
const view = compileView(data.definition);
const members = data.members ? new Set(data.members) : undefined;
const paths = members ? patientCompartmentPaths() : undefined;
const encoder = new TextEncoder();

function encode(texts: string[]): { bytes: Uint8Array; rows: number } {
  const rows: ViewRow[] = [];
  for (const text of texts) {
    const resource = JSON.parse(text) as Record<string, unknown>;
    if (members && !patientCompartment(resource as unknown as FhirResource, paths).some((id) => members.has(id))) continue;
    for (const row of view.rows(resource)) rows.push(row);
  }
  return { bytes: encoder.encode(encodeRows(data.encoding, view.columns, rows)), rows: rows.length };
}

parentPort?.on('message', (m: ThreadRequest) => {
  let reply: ThreadReply;
  let transfer: ArrayBuffer[] = [];
  try {
    const { bytes, rows } = encode(m.texts);
    reply = { seq: m.seq, bytes, rows, resources: m.texts.length };
    transfer = [bytes.buffer as ArrayBuffer];
  } catch (e) {
    reply = {
      seq: m.seq,
      error: e instanceof Error ? e.message : String(e),
      ...(e instanceof FhirError ? { status: e.status, code: e.code } : {}),
    };
  }
  parentPort?.postMessage(reply, transfer);
});
