import type { Worker } from 'node:worker_threads';
import { startThread } from '../threads/start-thread.js';
import type { ExportChunk, ExportJob } from '../store/ports.js';
import { type ChunkFile, JobCancelled } from './runner.js';
import type { ChunkExecutor } from './worker.js';

interface Pending {
  worker: Worker;
  resolve: (r: { files: ChunkFile[]; count: number }) => void;
  reject: (e: Error) => void;
}

type Reply = { id: number; result: { files: ChunkFile[]; count: number } } | { id: number; error: string; code?: string; cancelled: boolean };

/** An error a thread reported, with the errno or SQLSTATE code it carried. */
function threadError(message: string, code: string | undefined): Error {
  const e = new Error(message) as Error & { code?: string };
  if (code !== undefined) e.code = code;
  return e;
}

export interface ChunkPool {
  execute: ChunkExecutor;
  close(): Promise<void>;
}

/**
 * Runs chunks on worker threads, so reading the store and writing files use every core while the main thread
 * serves HTTP. Each thread runs `entry` (a module that opens its own store and storage from `workerData`).
 */
export function createChunkPool(options: { entry: URL; size: number; workerData: unknown }): ChunkPool {
  const idle: Worker[] = [];
  const waiting: ((w: Worker) => void)[] = [];
  const pending = new Map<number, Pending>();
  const workers: Worker[] = [];
  let nextId = 1;
  let closed = false;

  const spawn = (): Worker => {
    // Chunks stream in batches, so a thread needs little heap; the old-generation bound is generous because
    // reaching it ends the whole process, not only the thread. The young generation is what a thread's rows pass
    // through: kept small, it bounds the process's resident size at little cost in scavenges.
    const w = startThread(options.entry, { workerData: options.workerData, resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 8 } });
    w.on('message', (m: Reply) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if ('result' in m) p.resolve(m.result);
      else p.reject(m.cancelled ? new JobCancelled() : threadError(m.error, m.code));
      release(w);
    });
    // A thread that dies (an uncaught error, or it ended) fails what it was running (the chunk is retried) and
    // is replaced; 'exit' follows 'error', so it is handled once.
    let gone = false;
    const lose = (e: Error): void => {
      if (gone) return;
      gone = true;
      for (const [id, p] of pending) {
        if (p.worker === w) {
          pending.delete(id);
          p.reject(e);
        }
      }
      const i = workers.indexOf(w);
      if (i >= 0) workers.splice(i, 1);
      const j = idle.indexOf(w);
      if (j >= 0) idle.splice(j, 1);
      if (!closed) release(spawn());
    };
    w.on('error', (e) => lose(e));
    w.on('exit', (code) => lose(new Error(`export chunk thread exited (code ${code})`)));
    workers.push(w);
    return w;
  };

  const release = (w: Worker): void => {
    const next = waiting.shift();
    if (next) next(w);
    else idle.push(w);
  };

  for (let i = 0; i < options.size; i++) idle.push(spawn());

  const acquire = (): Promise<Worker> => {
    const w = idle.pop();
    if (w) return Promise.resolve(w);
    return new Promise((resolve) => waiting.push(resolve));
  };

  return {
    async execute(job: ExportJob, chunk: ExportChunk) {
      if (closed) throw new Error('chunk pool closed');
      const w = await acquire();
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { worker: w, resolve, reject });
        w.postMessage({ id, job, chunk });
      });
    },
    async close() {
      closed = true;
      const stopping = [...workers];
      await Promise.all(stopping.map((w) => w.terminate()));
    },
  };
}
