/** `--json`: every event as one JSON object per line, `{"event": name, "time": ISO, ...payload}`. */
import type { ExportEmitter } from '../events.js';
import type { Writable } from './log.js';

export function jsonReporter(emitter: ExportEmitter, out: Writable): () => void {
  return emitter.onAny((name, event) => {
    out.write(`${JSON.stringify({ event: name, time: new Date().toISOString(), ...event })}\n`);
  });
}
