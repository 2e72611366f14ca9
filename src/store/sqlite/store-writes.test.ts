import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Store } from '../ports.js';
import { openSqliteStore } from './index.js';

let dir: string;
let store: Store;
let other: Database.Database;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flatfhir-store-writes-'));
  store = openSqliteStore(join(dir, 'flatfhir.sqlite'));
  other = new Database(join(dir, 'flatfhir.sqlite'));
});

afterEach(async () => {
  other.close();
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * Each single-statement write of the store, called while another connection (an import, a second process) holds
 * the write lock. It must wait without blocking the thread: SQLite's own busy handler would keep the event loop
 * from running the timer that releases the lock, and the write would fail after the busy timeout.
 */
const writes: [string, (s: Store) => Promise<unknown>][] = [
  ['jobs.renewLease', (s) => s.jobs.renewLease('job-1', 0, { owner: 'w1', until: 1 })],
  ['jobs.failChunk', (s) => s.jobs.failChunk('job-1', 0, 'failed', true)],
  ['jobs.finishJob', (s) => s.jobs.finishJob('job-1', 'completed', 1)],
  ['jobs.takeTurn', (s) => s.jobs.takeTurn('sweep', 1, 1000)],
  ['jobs.reclaimExpired', (s) => s.jobs.reclaimExpired(1)],
  ['jobs.releaseAllLeases', (s) => s.jobs.releaseAllLeases()],
  ['tenants.createTenant', (s) => s.tenants.createTenant('t1', 'T1', 1)],
  ['resources.ensureTenant', (s) => s.resources.ensureTenant('t2')],
  ['sessions.createSession', (s) => s.sessions.createSession({ id: 'sess', csrfToken: 'c', createdAt: 1, expiresAt: 2 })],
  ['sessions.deleteSession', (s) => s.sessions.deleteSession('sess')],
  ['sessions.deleteExpiredSessions', (s) => s.sessions.deleteExpiredSessions(1)],
  [
    'asyncRequests.createRequest',
    (s) => s.asyncRequests.createRequest({ id: 'r1', tenant: 't1', clientId: 'c1', request: 'POST Group', payload: '{}', createdAt: 1, expiresAt: 2 }),
  ],
  ['asyncRequests.claimRequest', (s) => s.asyncRequests.claimRequest('r1', 1, 2)],
  ['asyncRequests.finishRequest', (s) => s.asyncRequests.finishRequest('r1', 'completed', '{}', 1)],
  ['asyncRequests.deleteRequest', (s) => s.asyncRequests.deleteRequest('r1')],
  ['asyncRequests.purgeExpiredRequests', (s) => s.asyncRequests.purgeExpiredRequests(1)],
  ['views.removeView', (s) => s.views.removeView('t1', 'v')],
  [
    'clients.registerClient',
    (s) => s.clients.registerClient({ clientId: 'c1', tenant: 't1', name: 'C', jwks: null, jwksUrl: null, scope: 'system/*.read', disabled: false, createdAt: 1 }),
  ],
];

describe('SQLite store writes while another connection writes', () => {
  it.each(writes)('%s waits for the lock without blocking the thread', async (_, write) => {
    other.exec('BEGIN IMMEDIATE');
    const events: string[] = [];
    const done = write(store).then(() => events.push('write'));
    setTimeout(() => {
      events.push('release');
      other.exec('COMMIT');
    }, 20);
    await done;
    expect(events).toEqual(['release', 'write']);
  });
});
