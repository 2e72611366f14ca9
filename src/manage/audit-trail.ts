import type { Logger } from 'pino';
import type { AuditEvent, AuditQuery, AuditStore, NewAuditEvent } from '../store/ports.js';

/**
 * The audit trail's writer and reader. `record` never waits and never throws: records are buffered and written
 * in one batch (one statement) as soon as the event loop is free, at most one write in flight, so a request or
 * a chunk never waits for the audit. `flush` resolves once every record made before it is stored (the admin
 * reads call it first, so this process's own records are always seen; `close` calls it too).
 *
 * Nothing secret goes in: callers pass what was asked (method and URL, or a command) and the outcome; URLs are
 * cut of query parameters that look like credentials, and every text is bounded.
 */
export interface AuditTrail {
  record(event: AuditInput): void;
  flush(): Promise<void>;
  list(query: AuditQuery): Promise<AuditEvent[]>;
  count(query: Omit<AuditQuery, 'beforeId' | 'limit'>): Promise<number>;
  /** The store underneath (job patient sets, retention). */
  readonly store: AuditStore;
}

/** What a caller records: the action and outcome, the rest when known (`at` defaults to now). */
export type AuditInput = Pick<NewAuditEvent, 'action' | 'outcome'> & Partial<Omit<NewAuditEvent, 'action' | 'outcome'>>;

/** Records buffered at most before a write is forced to wait for the one in flight (beyond: dropped, logged). */
const MAX_BUFFERED = 50_000;
const MAX_REQUEST = 2000;
const MAX_DETAIL = 1000;

const SECRET_PARAM = /token|assertion|secret|password|signature|key/i;

/** A URL or path with credential-like query parameters removed (their names kept: `access_token=…`). */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = new URLSearchParams(url.slice(q + 1));
  let changed = false;
  const kept: string[] = [];
  for (const [name, value] of params) {
    if (SECRET_PARAM.test(name)) {
      changed = true;
      kept.push(`${encodeURIComponent(name)}=…`);
    } else kept.push(`${encodeURIComponent(name)}=${encodeURIComponent(value)}`);
  }
  return changed ? `${url.slice(0, q)}?${kept.join('&')}` : url;
}

const bound = (text: string | null | undefined, max: number): string | null =>
  text === undefined || text === null ? null : text.length > max ? `${text.slice(0, max - 1)}…` : text;

export function toNewAuditEvent(e: AuditInput, now: number): NewAuditEvent {
  return {
    at: e.at ?? now,
    action: e.action,
    outcome: e.outcome,
    status: e.status ?? null,
    tenant: e.tenant ?? null,
    clientId: bound(e.clientId, 200),
    source: bound(e.source, 100),
    jobId: e.jobId ?? null,
    request: bound(e.request === undefined || e.request === null ? null : redactUrl(e.request), MAX_REQUEST),
    detail: bound(e.detail, MAX_DETAIL),
  };
}

export function createAuditTrail(deps: { store: AuditStore; log: Logger; now?: () => number }): AuditTrail {
  const now = deps.now ?? Date.now;
  let buffer: NewAuditEvent[] = [];
  let writing: Promise<void> | undefined;
  let scheduled = false;
  let dropped = 0;

  const writeAll = async (): Promise<void> => {
    while (buffer.length > 0) {
      const batch = buffer;
      buffer = [];
      try {
        await deps.store.append(batch);
      } catch (e) {
        deps.log.error({ err: e, records: batch.length }, 'audit records not stored');
      }
    }
    if (dropped > 0) {
      deps.log.error({ records: dropped }, 'audit records dropped: the store did not keep up');
      dropped = 0;
    }
  };

  const start = (): Promise<void> => {
    writing ??= writeAll().finally(() => {
      writing = undefined;
    });
    return writing;
  };

  return {
    store: deps.store,
    record(event) {
      if (buffer.length >= MAX_BUFFERED) {
        dropped++;
        return;
      }
      buffer.push(toNewAuditEvent(event, now()));
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        void start();
      });
    },
    async flush() {
      while (writing || buffer.length > 0) await start();
    },
    async list(query) {
      await this.flush();
      return deps.store.list(query);
    },
    async count(query) {
      await this.flush();
      return deps.store.count(query);
    },
  };
}
