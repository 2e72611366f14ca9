/**
 * The events a bulk export emits, and a tiny typed emitter. The command's progress view, its log lines, its
 * `--json` output and the tests are all subscribers; the export itself never prints.
 */
import type { DownloadedFile, ExportResult, Manifest, PlannedFile } from './types.js';

export type Phase = 'discovery' | 'token' | 'kickoff' | 'status' | 'download' | 'delete';

export interface ExportEvents {
  /** The token endpoint is known (advertised, discovered or given). */
  discovered: { tokenUrl: string; source: 'given' | 'smart-configuration' | 'capability-statement' };
  /** A new access token was obtained (`renewal` when it replaces an earlier one). */
  token: { expiresAt: number; renewal: boolean };
  /** The server accepted the kick-off. */
  kickoff: { requestUrl: string; method: 'GET' | 'POST'; statusUrl: string };
  /** A status poll answered "in progress". */
  status: { statusUrl: string; progress?: string; polls: number; waitMs: number; elapsedMs: number };
  /** The export is complete; `files` is the download plan. */
  manifest: { manifest: Manifest; files: PlannedFile[] };
  /** A download (or an attempt of it) started; `offset` is where a resumed download continues. */
  'file-start': { file: PlannedFile; attempt: number; offset: number; totalBytes?: number };
  /** Bytes arrived (throttled). */
  'file-progress': { file: PlannedFile; bytes: number; totalBytes?: number };
  /** A file was downloaded and checked, or failed for good (`ok: false`). */
  'file-done': DownloadedFile;
  /** Something transient happened; the client waits `delayMs` and tries again. */
  retry: { phase: Phase; url: string; attempt: number; delayMs: number; reason: string; status?: number };
  /** Something failed for good. `file` is set for a download. */
  error: { phase: Phase; message: string; file?: PlannedFile; status?: number };
  /** The job was deleted on the server (`alreadyGone`: the server answered 404). */
  'job-deleted': { statusUrl: string; alreadyGone: boolean };
  /** The export finished (successfully or not). */
  done: ExportResult;
}

export type ExportEventName = keyof ExportEvents;
export type Listener<K extends ExportEventName> = (event: ExportEvents[K]) => void;

/** A synchronous, typed event emitter. Unlike node:events, an `error` event without listeners is not thrown. */
export class ExportEmitter {
  private readonly listeners = new Map<ExportEventName, Set<(event: never) => void>>();
  private readonly anyListeners = new Set<<K extends ExportEventName>(name: K, event: ExportEvents[K]) => void>();

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends ExportEventName>(name: K, listener: Listener<K>): () => void {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    set.add(listener as (event: never) => void);
    return () => {
      set.delete(listener as (event: never) => void);
    };
  }

  /** Subscribes to every event: `(name, event)`. */
  onAny(listener: <K extends ExportEventName>(name: K, event: ExportEvents[K]) => void): () => void {
    this.anyListeners.add(listener);
    return () => {
      this.anyListeners.delete(listener);
    };
  }

  emit<K extends ExportEventName>(name: K, event: ExportEvents[K]): void {
    for (const l of this.listeners.get(name) ?? []) (l as Listener<K>)(event);
    for (const l of this.anyListeners) l(name, event);
  }
}
