/**
 * The JobQueue port: hands export chunks to workers, in this process (in-process/) or in any process sharing a
 * PostgreSQL database (pg-boss/). One queue item is one chunk, never one resource.
 *
 * The queue only delivers; the JobStore holds the truth. Delivery is at least once: an item can reach a
 * handler again (after a restart, a lease taken over, a lost acknowledgement), and handlers make that harmless
 * by claiming the chunk in the store first. What holds across adapters:
 * - every item sent is handed to one handler at a time, oldest first as far as the adapter can tell;
 * - an item is removed once its handler resolves; a rejection (the store unreachable, say) is reported to
 *   `onError` and the item offered again after a pause, a bounded number of times (handlers record the
 *   failures of the work itself in the store and resolve);
 * - an idle consumer of this queue object gets an item sent through it at once (no polling interval); items
 *   sent by another process reach it within the adapter's polling interval; a consumer that finishes an item
 *   takes the next one without waiting;
 * - `durable`: items outlive the process that sent them (pg-boss). The in-process queue forgets them, so a
 *   process starting with it sends the store's pending chunks again.
 */

/** One unit of work: an export chunk. */
export interface QueueItem {
  jobId: string;
  seq: number;
}

export interface QueueConsumer {
  /** Stops taking items and resolves once every running handler has settled. */
  stop(): Promise<void>;
}

export interface ConsumeOptions {
  /** Items handled at once by this consumer. */
  concurrency: number;
  /** Told of a handler's rejection (the item is offered again later) or a failure to fetch. */
  onError?: (error: unknown, item?: QueueItem) => void;
}

export interface JobQueue {
  /** Whether items survive the process (and reach consumers in other processes). */
  readonly durable: boolean;
  /** Adds items, in order; resolves once they are stored. */
  send(items: QueueItem[]): Promise<void>;
  /** Starts handing items to `handler`, up to `concurrency` at once, until the consumer is stopped. */
  consume(handler: (item: QueueItem) => Promise<void>, options: ConsumeOptions): QueueConsumer;
  /** Items waiting (not yet handed to a handler). */
  depth(): Promise<number>;
  /** Stops every consumer (waiting for their handlers) and releases the queue's connections. */
  close(): Promise<void>;
}
