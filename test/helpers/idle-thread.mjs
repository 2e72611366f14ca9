// A worker-thread entry that does nothing until it is told to stop (for tests of how threads are started).
import { parentPort } from 'node:worker_threads';

parentPort?.on('message', (m) => {
  if (m === 'stop') process.exit(0);
});
