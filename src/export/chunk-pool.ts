import type { Worker } from 'node:worker_threads';
import { startThread } from '../threads/start-thread.js';
import type { ExportChunk, ExportJob } from '../store/ports.js';
import { type ChunkFile, JobCancelled } from './runner.js';
import type { ChunkExecutor, JobPlanner, PlanOutcome } from './worker.js';

interface Pending {
  worker: Worker;
  resolve: (r: never) => void;
  reject: (e: Error) => void;
}

/** What a thread is asked: to run a chunk, or to plan a job (keeping its patients for the audit trail or not). */
export type ThreadRequest = { id: number; job: ExportJob; chunk: ExportChunk } | { id: number; job: ExportJob; plan: { auditPatients: boolean } };

/** `ready`: the thread has opened its store and storage and takes requests. */
type Reply = { ready: true } | { id: number; result: { files: ChunkFile[]; count: number } | PlanOutcome } | { id: number; error: string; code?: string; cancelled: boolean };

/** An error a thread reported, with the errno or SQLSTATE code it carried. */
function threadError(message: string, code: string | undefined): Error {
  const e = new Error(message) as Error & { code?: string };
  if (code !== undefined) e.code = code;
  return e;
}

export interface ChunkPool {
  execute: ChunkExecutor;
  /** Plans a job on a thread (with `auditPatients`, its patient set is kept for the audit trail). */
  planner(options: { auditPatients: boolean }): JobPlanner;
  /** Resolves once the threads started with the pool have opened their store and storage (or ended). */
  ready(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The young generation of a chunk thread (MiB). Each batch of rows passes through it; 8 MiB measured about 10 MB
 * more resident per thread at the same speed, and 3 MiB promotes the batches in flight to the old generation
 * (with the file buffers they hold), which then grows to several times this.
 */
const CHUNK_THREAD_YOUNG_MB = 4;

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
    const w = startThread(options.entry, { workerData: options.workerData, resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: CHUNK_THREAD_YOUNG_MB } });
    let started: () => void = () => undefined;
    starting.push(new Promise<void>((resolve) => (started = resolve)));
    w.on('message', (m: Reply) => {
      if ('ready' in m) {
        started();
        return;
      }
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if ('result' in m) p.resolve(m.result as never);
      else p.reject(m.cancelled ? new JobCancelled() : threadError(m.error, m.code));
      release(w);
    });
    // A thread that dies (an uncaught error, or it ended) fails what it was running (the chunk is retried) and
    // is replaced; 'exit' follows 'error', so it is handled once.
    let gone = false;
    const lose = (e: Error): void => {
      if (gone) return;
      gone = true;
      started();
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

  const starting: Promise<void>[] = [];
  for (let i = 0; i < options.size; i++) idle.push(spawn());
  const initial = Promise.all(starting.slice(0, options.size)).then(() => undefined);

  const acquire = (): Promise<Worker> => {
    const w = idle.pop();
    if (w) return Promise.resolve(w);
    return new Promise((resolve) => waiting.push(resolve));
  };

  const ask = async <T>(request: (id: number) => ThreadRequest): Promise<T> => {
    if (closed) throw new Error('chunk pool closed');
    const w = await acquire();
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { worker: w, resolve: resolve as (r: never) => void, reject });
      w.postMessage(request(id));
    });
  };

  return {
    ready: () => initial,
    execute: (job: ExportJob, chunk: ExportChunk) => ask<{ files: ChunkFile[]; count: number }>((id) => ({ id, job, chunk })),
    planner: (plan) => (job: ExportJob) => ask<PlanOutcome>((id) => ({ id, job, plan })),
    async close() {
      closed = true;
      const stopping = [...workers];
      await Promise.all(stopping.map((w) => w.terminate()));
    },
  };
}
