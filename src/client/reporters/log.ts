/** Plain log lines (one per event that matters), for logs and terminals without progress bars. */
import type { ExportEmitter } from '../events.js';
import { formatBytes, formatSeconds } from './format.js';

export interface Writable {
  write(text: string): unknown;
}

/** Subscribes; returns the function that unsubscribes. */
export function logReporter(emitter: ExportEmitter, out: Writable): () => void {
  const say = (text: string): void => {
    out.write(`${new Date().toISOString()} ${text}\n`);
  };
  const offs = [
    emitter.on('discovered', (e) => say(`token endpoint ${e.tokenUrl}${e.source === 'given' ? '' : ` (from the ${e.source})`}`)),
    emitter.on('token', (e) => say(`${e.renewal ? 'renewed the access token' : 'got an access token'} (valid until ${new Date(e.expiresAt).toISOString()})`)),
    emitter.on('kickoff', (e) => say(`export started (${e.method} ${e.requestUrl}); status: ${e.statusUrl}`)),
    emitter.on('status', (e) => say(`in progress${e.progress ? `: ${e.progress}` : ''} (poll ${e.polls}, next in ${formatSeconds(e.waitMs)})`)),
    emitter.on('manifest', (e) =>
      say(`export complete: ${e.files.length} file(s) to download (transactionTime ${e.manifest.transactionTime || '?'}${e.manifest.requiresAccessToken ? '' : ', no token needed'})`),
    ),
    emitter.on('file-start', (e) => {
      if (e.attempt > 1 || e.offset > 0) say(`resuming ${e.file.name} at byte ${e.offset} (attempt ${e.attempt})`);
    }),
    emitter.on('file-done', (e) => {
      if (e.ok) say(`${e.reused ? 'kept' : 'downloaded'} ${e.file.name}: ${e.resources} resources, ${formatBytes(e.bytes)}`);
    }),
    emitter.on('retry', (e) =>
      say(`${e.phase}: ${e.reason}; ${e.delayMs > 0 ? `retrying in ${formatSeconds(e.delayMs)}` : 'retrying'} (attempt ${e.attempt})`),
    ),
    emitter.on('error', (e) => say(`error (${e.phase}): ${e.message}`)),
    emitter.on('job-deleted', (e) => say(`deleted the job ${e.statusUrl}`)),
  ];
  return () => {
    for (const off of offs) off();
  };
}
