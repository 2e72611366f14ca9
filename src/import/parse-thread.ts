/**
 * Worker-thread entry for import: parses and prepares the files it is given and posts the events to the main
 * thread, which writes them. At most `maxInFlight` messages are unread (the main thread acknowledges each as it
 * takes it), so memory stays flat however large the input, and parsing goes on while the main thread writes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ParseEvent, parseFiles } from './parse.js';

const { files, maxGroupMembers, batchSize, maxInFlight } = workerData as { files: string[]; maxGroupMembers: number; batchSize: number; maxInFlight: number };
let inFlight = 0;
let wakeUp: (() => void) | undefined;
parentPort?.on('message', () => {
  inFlight--;
  wakeUp?.();
});

async function send(events: ParseEvent[]): Promise<void> {
  while (inFlight >= maxInFlight) await new Promise<void>((r) => (wakeUp = r));
  inFlight++;
  parentPort?.postMessage({ events });
}

let pending: ParseEvent[] = [];
for await (const event of parseFiles(files, { maxGroupMembers, batchSize })) {
  pending.push(event);
  if (event.kind === 'resources' || pending.length >= 100) {
    await send(pending);
    pending = [];
  }
}
if (pending.length > 0) await send(pending);
parentPort?.postMessage({ done: true });
