import type { ConsumeOptions, JobQueue, QueueConsumer, QueueItem } from './ports.js';

/** Deliveries of an item whose handler rejected, and the pause before the first (growing with each). */
const RETRY_LIMIT = 12;
const RETRY_DELAY_MS = 1000;

/**
 * The embedded mode's queue: items in memory, handed to this process's consumers as soon as one is free. Not
 * durable: a process starting with it re-sends the store's pending chunks.
 */
export function createInProcessQueue(): JobQueue {
  const items: QueueItem[] = [];
  const retries = new WeakMap<QueueItem, number>();
  const consumers = new Set<QueueConsumer>();
  let wakers: (() => void)[] = [];

  const wakeAll = (): void => {
    const list = wakers;
    wakers = [];
    for (const w of list) w();
  };

  function consume(handler: (item: QueueItem) => Promise<void>, options: ConsumeOptions): QueueConsumer {
    let running = true;
    const loop = async (): Promise<void> => {
      while (running) {
        const item = items.shift();
        if (!item) {
          await new Promise<void>((resolve) => wakers.push(resolve));
          continue;
        }
        try {
          await handler(item);
        } catch (e) {
          options.onError?.(e, item);
          const tries = (retries.get(item) ?? 0) + 1;
          if (tries <= RETRY_LIMIT) {
            retries.set(item, tries);
            const timer = setTimeout(() => {
              items.push(item);
              wakeAll();
            }, RETRY_DELAY_MS * tries);
            timer.unref();
          }
        }
      }
    };
    const loops = Array.from({ length: Math.max(1, options.concurrency) }, () => loop());
    const consumer: QueueConsumer = {
      async stop() {
        running = false;
        wakeAll();
        await Promise.all(loops);
        consumers.delete(consumer);
      },
    };
    consumers.add(consumer);
    return consumer;
  }

  return {
    durable: false,
    async send(batch) {
      items.push(...batch);
      wakeAll();
    },
    consume,
    async depth() {
      return items.length;
    },
    async close() {
      await Promise.all([...consumers].map((c) => c.stop()));
    },
  };
}
