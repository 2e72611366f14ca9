/**
 * The entry of a view evaluation thread (see parallel.ts): compiles the view it is given once, then turns each
 * batch of resources (JSON text) it receives into encoded rows, sent back as transferred bytes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FhirError } from '../fhir/errors.js';
import { compileView } from './evaluate.js';
import { encodeTexts, memberFilter, type ThreadReply, type ThreadRequest, type ViewThreadData } from './parallel.js';

const data = workerData as ViewThreadData;
const view = compileView(data.definition);
const accept = data.members ? memberFilter(data.members) : undefined;

/** The batch's bytes in an ArrayBuffer of their own, which can be transferred. */
function encode(texts: string[]): { bytes: Uint8Array; rows: number } {
  const { bytes, rows } = encodeTexts(view, data.encoding, texts, accept);
  if (bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.byteLength) return { bytes, rows };
  return { bytes: new Uint8Array(bytes), rows };
}

parentPort?.postMessage({ ready: true } satisfies ThreadReply);
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
