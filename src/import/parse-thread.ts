/**
 * Worker-thread entry for import: parses the tasks it is given (whole files or ranges of one) and posts their
 * events to the main thread, which puts the tasks back in order and writes them. Each message holds events of one
 * task; at most `maxInFlight` messages are unread (the main thread acknowledges each as it takes it), so memory
 * stays flat however large the input, and parsing goes on while the main thread writes.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type ParseTask, parseTask, type TaskEvent } from './parse.js';
import { packResources } from './wire.js';

const { tasks, maxGroupMembers, batchSize, maxInFlight } = workerData as {
  tasks: { index: number; task: ParseTask }[];
  maxGroupMembers: number;
  batchSize: number;
  maxInFlight: number;
};
let inFlight = 0;
let wakeUp: (() => void) | undefined;
parentPort?.on('message', () => {
  inFlight--;
  wakeUp?.();
});

async function send(index: number, events: TaskEvent[]): Promise<void> {
  while (inFlight >= maxInFlight) await new Promise<void>((r) => (wakeUp = r));
  inFlight++;
  parentPort?.postMessage({ index, events: events.map((e) => (e.kind === 'resources' ? { ...e, items: packResources(e.items) } : e)) });
}

for (const { index, task } of tasks) {
  let pending: TaskEvent[] = [];
  for await (const event of parseTask(task, { maxGroupMembers, batchSize })) {
    pending.push(event);
    if (event.kind === 'resources' || event.kind === 'done' || pending.length >= 100) {
      await send(index, pending);
      pending = [];
    }
  }
}
parentPort?.postMessage({ done: true });
