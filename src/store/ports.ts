/**
 * The store ports. Every adapter (sqlite/, postgres/) implements all of them on one database, so that an
 * export can join a job's patient set with the Patient-compartment index inside the database.
 *
 * Times are epoch milliseconds (integers). Each write batch of a tenant gets a timestamp strictly greater
 * than every earlier one of that tenant ("the tenant clock"), and `snapshotTime` returns an instant that
 * separates committed writes from later ones, so `until = snapshotTime()` is a consistent snapshot.
 */

import type { CohortCriterion } from '../fhir/member-filter.js';
import type { PreparedResource } from '../fhir/resource.js';

export interface WriteCounts {
  created: number;
  updated: number;
  unchanged: number;
  deleted: number;
}

export interface StoredResource {
  type: string;
  id: string;
  versionId: number;
  lastUpdated: number;
  deleted: boolean;
  /** The exact JSON text an export writes (null for a tombstone). */
  json: string | null;
}

/** Which resources of one type a scan returns. */
export interface ScanRequest {
  tenant: string;
  type: string;
  /** The snapshot: versions current at this instant (inclusive). */
  until: number;
  /** Only versions written after this instant (exclusive). */
  since?: number;
  /**
   * Restrict to the Patient compartments of a job's patients whose ids lie in [from, to] (inclusive; either
   * bound open when absent). Each resource is returned once across all slices of the same job: a resource in
   * several member patients' compartments belongs to the slice of the smallest such patient id.
   * Patients stored with `fullHistory` ignore `since`. With `everyCompartment`, a resource in several member
   * patients' compartments is returned for each of them (patient blocks: each block holds the whole compartment).
   */
  patients?: { jobId: string; from?: string; to?: string; everyCompartment?: boolean };
  /** Restrict to resource ids in (afterId, toId] (system-level slices). */
  ids?: { after?: string; to?: string };
  /** Tombstones (resources deleted in (since, until]) instead of live resources. */
  deleted?: boolean;
}

/** Which referenced resources (Location, Organization, Practitioner) or Provenance a scan returns. */
export interface ReferencedScanRequest {
  tenant: string;
  /** The type to return: Location, Organization, Practitioner or Provenance. */
  type: string;
  until: number;
  since?: number;
  /** Source resources: these types, in the compartments of the job's patients (or, without jobId, the whole tenant). */
  sourceTypes: string[];
  jobId?: string;
  /** With jobId: only sources in the compartments of the job's patients whose ids lie in [from, to] (inclusive). */
  patients?: { from?: string; to?: string };
  /** Provenance only: keep, per target, only the Provenance with the latest recorded time. */
  latestOnly?: boolean;
}

export interface ResourceStore {
  ensureTenant(tenant: string): Promise<void>;
  listTenants(): Promise<string[]>;
  /** Writes a batch atomically (all or nothing) with one timestamp; unchanged content keeps its version. */
  writeBatch(tenant: string, batch: PreparedResource[]): Promise<WriteCounts>;
  /** Deletes (leaves a tombstone); returns false when there was no live resource. */
  deleteResource(tenant: string, type: string, id: string): Promise<boolean>;
  read(tenant: string, type: string, id: string): Promise<StoredResource | undefined>;
  /** The version of a resource current at `at` (from history when it has changed since). */
  readAt(tenant: string, type: string, id: string, at: number): Promise<StoredResource | undefined>;
  /** A consistent snapshot instant: every write committed before the call is <= it, every later one > it. */
  snapshotTime(tenant: string): Promise<number>;
  /**
   * Streams rows (in batches) in a deterministic order: the same data gives the same order, so a rerun chunk
   * writes the same lines. PostgreSQL returns id order (by patient, then id, for compartment scans); SQLite
   * returns the current versions in that order, then versions from history.
   */
  scan(request: ScanRequest): AsyncIterable<StoredResource[]>;
  scanReferenced(request: ReferencedScanRequest): AsyncIterable<StoredResource[]>;
  /**
   * The JSON text of each row of `scan` (live resources only, not `deleted`) or `scanReferenced`, the same rows
   * in the same order and batches, without the rest of the row: what a plain export copies to its files. Each
   * line is the text, or its UTF-8 bytes as the store read them (copied to a file without decoding).
   * Optional: without it, callers take `json` from the rows of `scan` and `scanReferenced`.
   */
  scanJson?(request: { scan: ScanRequest } | { referenced: ReferencedScanRequest }): AsyncIterable<(string | Buffer)[]>;
  /** How many rows `scan` would return (an upper bound is fine for `since`), for planning and progress. */
  count(request: ScanRequest): Promise<number>;
  /**
   * Ids of the resources of a type live at `until` (current versions written by then, and replaced versions that
   * were current then), in order, every `step`-th one (boundaries for slicing; step 1: all of them, the patient set
   * a system export records). For steps above 16 SQLite counts current rows only: the boundaries then only split
   * the id range, whose slices still cover every id.
   */
  idBoundaries(tenant: string, type: string, until: number, step: number): Promise<string[]>;
  /** Counts of live resources per type. */
  countByType(tenant: string): Promise<Record<string, number>>;
  /**
   * Of `ids`, those of live resources of `type` at the instant `at` (current or from history), in no particular
   * order; one indexed look-up per id, in one round trip (kick-off checks of listed patients).
   */
  presentIds(tenant: string, type: string, ids: string[], at: number): Promise<string[]>;
  /**
   * Marks the start of a bulk load (an import) until the returned function is called: the adapter may move its
   * housekeeping off the writing thread meanwhile (SQLite checkpoints its write-ahead log on a thread of its own).
   * Durability, atomicity of each batch and what readers see are as for any write.
   */
  beginBulkLoad(): Promise<() => Promise<void>>;
  /**
   * Refreshes the database's planner statistics after a large write (the end of an import): PostgreSQL
   * ANALYZEs the resource tables, SQLite runs `PRAGMA optimize`. Failures are not reported (only an optimisation).
   */
  refreshStatistics(): Promise<void>;
  /**
   * Refreshes the planner statistics of the tables an export reads (job patient sets included) that changed much
   * since they were last computed, whatever wrote them; costs one catalogue query when none did. Called when a
   * job is planned, so no export runs on statistics that describe another state of the data. Returns the tables
   * refreshed (none on SQLite, whose plans do not depend on them). `jobPatients`: how many patient rows the
   * caller has just written (counted at once, since the database's own counts lag commits). Failures are not reported.
   */
  refreshStaleStatistics(jobPatients?: number): Promise<string[]>;
}

export type JobStatus = 'in-progress' | 'completed' | 'failed' | 'deleted';
export type ExportKind = 'group' | 'patient' | 'system';

export interface ExportJob {
  id: string;
  tenant: string;
  clientId: string;
  kind: ExportKind;
  status: JobStatus;
  /** The absolute kick-off URL (with query string for GET). */
  request: string;
  /** Fingerprint of the normalised request, for duplicate-request rejection. */
  requestHash: string;
  /** The validated parameters (JSON-serialisable; shape owned by export/). */
  params: unknown;
  transactionTime: number;
  createdAt: number;
  completedAt: number | null;
  expiresAt: number;
  totalResources: number;
  doneResources: number;
  /** A fatal error that failed the whole job. */
  error: string | null;
}

export type ChunkStatus = 'pending' | 'running' | 'done' | 'failed';

export interface ExportChunk {
  jobId: string;
  seq: number;
  type: string;
  /** Slice description (JSON-serialisable; shape owned by export/). */
  slice: unknown;
  status: ChunkStatus;
  attempts: number;
  leaseUntil: number | null;
  count: number;
  error: string | null;
}

export type FileKind = 'output' | 'error' | 'deleted';

export interface ExportFile {
  id: string;
  jobId: string;
  chunkSeq: number;
  kind: FileKind;
  type: string;
  /** Order within the job (chunk sequence, then part). */
  part: number;
  objectKey: string;
  count: number;
  bytes: number;
}

/** A chunk to plan: its type, slice and estimated resources (the job total is the sum of the estimates). */
export interface PlannedChunkRow {
  type: string;
  slice: unknown;
  estimate: number;
}

export interface NewJob extends Omit<ExportJob, 'status' | 'completedAt' | 'doneResources' | 'error' | 'totalResources'> {
  /** The job's patients (group members or listed patients), with whether each gets its full history. */
  patients?: { id: string; fullHistory: boolean }[];
  /** The job's first chunks, numbered from 0 (an export starts with the one chunk that plans the rest). */
  chunks?: PlannedChunkRow[];
}

/** Which jobs `listJobs` returns: those matching every given condition. */
export interface JobFilter {
  tenant?: string;
  clientId?: string;
  /** One status, or any of several. */
  status?: JobStatus | JobStatus[];
  /** Expiring before this instant (exclusive). */
  expiredBefore?: number;
  /** Expiring after this instant (exclusive): not expired yet at it. */
  expiresAfter?: number;
  /** Finished (completed or failed) before this instant (exclusive). */
  completedBefore?: number;
  /** Newest first (created, then id, both descending) instead of oldest first. */
  newestFirst?: boolean;
  /** At most this many. */
  limit?: number;
}

/** Names one chunk (what the JobQueue carries). */
export interface ChunkRef {
  jobId: string;
  seq: number;
}

/** Who holds a chunk's lease, and until when (epoch ms). */
export interface Lease {
  owner: string;
  until: number;
}

/**
 * Export jobs, their chunks and files. Chunks are leased: a worker claims one (status running, lease owner and
 * expiry), renews the lease while it runs (a heartbeat), and records its result; a lease that lapses (the worker
 * died) lets the chunk be claimed again. Every rule that must hold across processes (one in-progress job per
 * client, one claimer per chunk, a job completed exactly when its last chunk commits) holds inside the database,
 * so any number of processes may share one store.
 */
export interface JobStore {
  /**
   * Creates the job (with `patients` and the initial `chunks`, pending) unless the client already has one in
   * progress for the tenant (returns that one instead, as `{ conflict }`), atomically.
   */
  createJob(job: NewJob): Promise<{ job: ExportJob } | { conflict: ExportJob }>;
  getJob(id: string): Promise<ExportJob | undefined>;
  /** Jobs of a client not deleted, with this request hash (duplicate-request rejection). */
  findByRequestHash(tenant: string, clientId: string, requestHash: string): Promise<ExportJob | undefined>;
  /** Jobs matching every given condition, oldest first (created, then id), or newest first when asked. */
  listJobs(filter: JobFilter): Promise<ExportJob[]>;
  /** How many jobs and chunks are in each status (statuses with none are absent), for metrics. */
  countByStatus(): Promise<{ jobs: Partial<Record<JobStatus, number>>; chunks: Partial<Record<ChunkStatus, number>> }>;
  /** Adds patients to a job (those already there are kept as they are); idempotent. */
  setJobPatients(jobId: string, patients: { id: string; fullHistory: boolean }[]): Promise<void>;
  /**
   * Records a planning chunk's result, atomically: marks chunk `seq` done, appends `chunks` (pending, numbered
   * after the job's existing chunks) and sets the job total. Completes the job (at `at`) when no chunk is left
   * to run. Returns the new chunks' numbers, or undefined (nothing changed) when the job is no longer in
   * progress or the chunk was done already.
   */
  completePlan(jobId: string, seq: number, chunks: PlannedChunkRow[], total: number, at: number): Promise<{ seqs: number[]; jobCompleted: boolean } | undefined>;
  /** The job's chunks in seq order. */
  listChunks(jobId: string): Promise<ExportChunk[]>;
  /**
   * Claims one chunk of an in-progress job when it is pending, or running under a lease that lapsed before
   * `now`: it becomes running under `lease`, its attempts counted. Of concurrent claims exactly one succeeds.
   * Returns the chunk with its job, or undefined (done, failed, leased, job not in progress, unknown).
   */
  claimChunk(jobId: string, seq: number, lease: Lease, now: number): Promise<{ job: ExportJob; chunk: ExportChunk } | undefined>;
  /** Extends a running chunk's lease while `lease.owner` still holds it; false when it holds it no longer. */
  renewLease(jobId: string, seq: number, lease: Lease): Promise<boolean>;
  /**
   * Makes running chunks of in-progress jobs whose lease lapsed before `now` pending again and returns them
   * (each to exactly one caller), so they can be queued again.
   */
  reclaimExpired(now: number): Promise<ChunkRef[]>;
  /** Makes every running chunk pending again (a sole process starting: its previous run's leases are dead). */
  releaseAllLeases(): Promise<number>;
  /** Pending chunks of in-progress jobs, oldest job first, then seq (to queue again after a restart). */
  pendingChunks(): Promise<ChunkRef[]>;
  /**
   * Marks a chunk done and records its files and count, atomically; the job's done count grows by `count` and
   * its total by `count` less the chunk's estimate (so at the end total = done). The job completes (at `at`)
   * in the same transaction when this was its last chunk not done. `recorded` is false (nothing changed) when
   * the job is no longer in progress or the chunk was done already.
   */
  completeChunk(
    jobId: string,
    seq: number,
    files: Omit<ExportFile, 'jobId' | 'chunkSeq'>[],
    count: number,
    at: number,
  ): Promise<{ recorded: boolean; jobCompleted: boolean }>;
  /**
   * Records a chunk's failure: pending again (`retry`) or failed for good; its lease is released. A chunk already
   * done (a step after its result was recorded failed) is left alone: done again, it would be exported twice.
   */
  failChunk(jobId: string, seq: number, error: string, retry: boolean): Promise<void>;
  /** Sets status (and completedAt/error) when the job is still in progress; returns whether it changed. */
  finishJob(jobId: string, status: 'completed' | 'failed', at: number, error?: string): Promise<boolean>;
  /** Marks a job deleted; returns its files so the caller can delete their objects. */
  deleteJob(jobId: string): Promise<ExportFile[]>;
  /** Removes every trace of a job (after its objects are gone). */
  purgeJob(jobId: string): Promise<void>;
  listFiles(jobId: string): Promise<ExportFile[]>;
  getFile(fileId: string): Promise<ExportFile | undefined>;
  /**
   * A turn at a periodic task shared by every process of the store (e.g. the retention sweep): true for at
   * most one caller per `intervalMs`, whichever process asks first once the previous turn's interval is over.
   */
  takeTurn(task: string, now: number, intervalMs: number): Promise<boolean>;
}

export interface RegisteredClient {
  clientId: string;
  tenant: string;
  name: string;
  /** Inline JWKS (JSON) or null when jwksUrl is used. */
  jwks: { keys: Record<string, unknown>[] } | null;
  jwksUrl: string | null;
  /** Pre-authorized scopes (space separated). */
  scope: string;
  disabled: boolean;
  createdAt: number;
}

export interface ClientStore {
  registerClient(client: RegisteredClient): Promise<void>;
  getClient(clientId: string): Promise<RegisteredClient | undefined>;
  listClients(tenant?: string): Promise<RegisteredClient[]>;
  /**
   * Enables or disables a client; disabling also revokes every token issued to it until now (see `revocations`),
   * in the same transaction. False when there is no such client.
   */
  setClientDisabled(clientId: string, disabled: boolean): Promise<boolean>;
  /** Removes a client and revokes every token issued to it until now, atomically. False when there was none. */
  removeClient(clientId: string): Promise<boolean>;
  /**
   * The token revocations recorded after `since` (epoch ms): per client, the latest instant before which its
   * tokens are void. One indexed range read; every process of the store sees the same list.
   */
  revocations(since: number): Promise<Map<string, number>>;
  /** Records an assertion's jti until it expires; false if it was already recorded and unexpired. */
  useJti(clientId: string, jti: string, expiresAt: number, now: number): Promise<boolean>;
}

/** An access-token signing key as stored: its private JWK (the public key is derived from it). */
export interface StoredSigningKey {
  kid: string;
  alg: string;
  createdAt: number;
  privateJwk: Record<string, unknown>;
}

/**
 * The secrets every process of a deployment shares: the access-token signing keys and named secrets (the
 * download-URL secret), so that any API process verifies the tokens and URLs another one issued. PostgreSQL keeps
 * them in tables of the store's schema; the embedded store keeps them in files under the data directory's `keys/`
 * (mode 0600 in a 0700 folder), where earlier versions kept them. Nothing here is ever logged.
 */
export interface KeyStore {
  /**
   * The signing keys, oldest first (by createdAt, then kid). When there are none, stores `first()` and returns it:
   * processes starting at once agree on one key (one of them wins, the others get its key).
   */
  signingKeys(first: () => Promise<StoredSigningKey>): Promise<StoredSigningKey[]>;
  /** A cheap value that changes whenever the key set changes ('' while there is none), to notice a rotation. */
  signingKeysVersion(): Promise<string>;
  /** Adds a key and removes the keys with the given ids, atomically: readers see the set before or after. */
  replaceSigningKeys(add: StoredSigningKey, retire: string[]): Promise<void>;
  /**
   * The named secret (`[a-z0-9-]+`). When absent, stores `create()` and returns it: concurrent callers agree on one
   * value.
   */
  secret(name: string, create: () => Buffer): Promise<Buffer>;
}

/** A ViewDefinition stored for a tenant (SQL on FHIR), under a name that is also its table name. */
export interface StoredView {
  tenant: string;
  /** `[A-Za-z][A-Za-z0-9_]{0,63}`: the view's id on the server (`ViewDefinition/<name>`) and its table name. */
  name: string;
  /** The ViewDefinition's canonical url, when it has one (for `subjectCanonical`). */
  url: string | null;
  /** The resource type it reads. */
  resource: string;
  /** The ViewDefinition as JSON text. */
  definition: string;
  createdAt: number;
  updatedAt: number;
}

/** The ViewDefinitions each tenant keeps. One contract suite (test/view-store-contract.test.ts) over every adapter. */
export interface ViewStore {
  /** Stores a view, replacing the tenant's view of the same name (createdAt kept); true when it was new. */
  putView(view: StoredView): Promise<boolean>;
  getView(tenant: string, name: string): Promise<StoredView | undefined>;
  /** The tenant's view with this canonical url (a `|version` suffix is not part of the stored url), if any. */
  findViewByUrl(tenant: string, url: string): Promise<StoredView | undefined>;
  /** The tenant's views in name order; other tenants' never. */
  listViews(tenant: string): Promise<StoredView[]>;
  /** Removes a view; false when the tenant had none of that name. */
  removeView(tenant: string, name: string): Promise<boolean>;
}

/** What an audit record says happened: the action and its outcome. */
export type AuditOutcome = 'success' | 'failure';

/** One entry of the audit trail (never a token, key or assertion). */
export interface AuditEvent {
  /** Increasing with each record (across processes: the database assigns it). */
  id: number;
  /** When it happened (epoch ms). */
  at: number;
  /**
   * What was done, dotted: `token`, `export.kickoff`, `export.status`, `export.download`, `export.delete`,
   * `export.expire`, `group.create`, `group.create.cancel`, `group.delete`, `admin.<object>.<verb>` (e.g. `admin.client.disable`).
   */
  action: string;
  outcome: AuditOutcome;
  /** The HTTP status answered, when it was a request. */
  status: number | null;
  tenant: string | null;
  /** The client acting (for a refused token request: the client it named, unverified). */
  clientId: string | null;
  /** Where the request came from: an IP address, or `cli` for a command run on the store. */
  source: string | null;
  /** The export job concerned. */
  jobId: string | null;
  /** What was asked: method and URL, or the command. */
  request: string | null;
  /** Why it failed, or what changed. */
  detail: string | null;
}

export type NewAuditEvent = Omit<AuditEvent, 'id'>;

/** Which audit records `list` returns: those matching every given condition, newest first. */
export interface AuditQuery {
  tenant?: string;
  clientId?: string;
  jobId?: string;
  /** Only records of jobs whose patient set held this patient (of the record's tenant). */
  patient?: string;
  /** An action, or a prefix of dotted actions (`export` matches `export.kickoff`, `export.download`…). */
  action?: string;
  outcome?: AuditOutcome;
  /** At or after this instant. */
  from?: number;
  /** Before this instant (exclusive). */
  to?: number;
  /** Only records with an id below this one (the next page after a page ending at it). */
  beforeId?: number;
  /** At most this many (default 100). */
  limit?: number;
}

/**
 * The audit trail: who did what, when, from where, with what outcome, and which patients each export job's
 * scope held. Appends are batched by the caller; both adapters insert a batch in one statement.
 */
export interface AuditStore {
  /** Appends records in one transaction; each gets the next id. */
  append(events: NewAuditEvent[]): Promise<void>;
  /** Records matching the query, newest first (by id). */
  list(query: AuditQuery): Promise<AuditEvent[]>;
  /** How many records match (ignores `beforeId` and `limit`). */
  count(query: Omit<AuditQuery, 'beforeId' | 'limit'>): Promise<number>;
  /** Records the patients an export job's scope held (idempotent; more may be added later). */
  addJobPatients(tenant: string, jobId: string, patientIds: string[], at: number): Promise<void>;
  /** The jobs (ids, any order) whose patient set held the patient, of one tenant or of every tenant. */
  jobsOfPatient(patientId: string, tenant?: string): Promise<string[]>;
  /** Deletes records (and job patient sets) older than `before`; returns how many records went. */
  purgeBefore(before: number): Promise<number>;
}

/** A tenant as the management plane knows it. */
export interface TenantRecord {
  id: string;
  /** Display name ('' for a tenant made as a side effect of an import or a write). */
  name: string;
  /** When it was created with `createTenant` (null for a tenant made as a side effect). */
  createdAt: number | null;
}

/**
 * Tenants. A tenant also comes into being as a side effect (`ResourceStore.ensureTenant`, any write): it is then
 * listed here with an empty name and no creation time.
 */
export interface TenantStore {
  /** Creates a tenant with its display name; false (nothing changed) when it exists already. */
  createTenant(id: string, name: string, createdAt: number): Promise<boolean>;
  getTenant(id: string): Promise<TenantRecord | undefined>;
  /** Every tenant, in id order. */
  listTenantRecords(): Promise<TenantRecord[]>;
  /** How many clients and export jobs (deleted ones included until purged) the tenant has. */
  tenantCounts(id: string): Promise<{ clients: number; jobs: number }>;
  /** Ids of the tenant's jobs, whatever their status (to remove their files). */
  tenantJobIds(id: string): Promise<string[]>;
  /**
   * Removes the tenant and everything stored for it, atomically: its resources with their history and indexes,
   * its clients (with their used assertion ids), its jobs with their patients, chunks and file records. False
   * (nothing changed) when there is no such tenant. Other tenants are untouched.
   */
  removeTenant(id: string): Promise<boolean>;
}

/**
 * Dynamic group evaluation on the search-value index (filled by `writeBatch` from `PreparedResource.searchValues`,
 * cleared when a resource changes or is deleted), and the member sets jobs recorded.
 */
export interface CohortStore {
  /**
   * Ids of live Patients matching every criterion (for each, one resource of its type in the patient's compartment
   * matching all its conditions), in id order, at most `limit` (ask for one more than allowed to detect excess).
   * One set-based statement; no resource is read.
   */
  matchPatients(tenant: string, criteria: CohortCriterion[], limit: number): Promise<string[]>;
  /** The patients recorded for a job (its member set), in id order; empty for an unknown job. */
  jobPatientIds(jobId: string): Promise<string[]>;
}

/**
 * A console login: the admin credential exchanged for a cookie. `id` is the SHA-256 (hex) of the cookie's secret
 * value, so the table never holds a usable cookie; `csrfToken` is the value every unsafe request of the session must
 * carry in a header.
 */
export interface ConsoleSession {
  id: string;
  csrfToken: string;
  createdAt: number;
  expiresAt: number;
}

/** Console sessions, shared by every API process of the store (a login on one node is valid on all). */
export interface SessionStore {
  createSession(session: ConsoleSession): Promise<void>;
  /** The session with this id when it expires after `now`; undefined when unknown or expired. */
  getSession(id: string, now: number): Promise<ConsoleSession | undefined>;
  /** Removes a session (logout); false when there was none. */
  deleteSession(id: string): Promise<boolean>;
  /** Removes every session expired at `now`; returns how many. */
  deleteExpiredSessions(now: number): Promise<number>;
}

/** Where an asynchronous request stands: waiting (or being carried out), or finished one way or the other. */
export type AsyncRequestStatus = 'pending' | 'completed' | 'failed';

/**
 * A FHIR interaction accepted with `Prefer: respond-async` (the Asynchronous Interaction Request pattern): what
 * it asks, kept until it is carried out, then its outcome, kept until it expires or the client deletes it.
 */
export interface AsyncRequest {
  id: string;
  tenant: string;
  /** The client that asked (only it may see the status or cancel). */
  clientId: string;
  /** What was asked, e.g. `POST Group` (for the audit trail and the admin). */
  request: string;
  /** What to carry out (JSON text; shape owned by the caller). */
  payload: string;
  status: AsyncRequestStatus;
  /** The outcome once finished (JSON text; shape owned by the caller), else null. */
  result: string | null;
  createdAt: number;
  completedAt: number | null;
  expiresAt: number;
  /** Until when the process carrying it out holds it (null: nobody does). */
  leaseUntil: number | null;
}

export type NewAsyncRequest = Omit<AsyncRequest, 'status' | 'result' | 'completedAt' | 'leaseUntil'>;

/** Asynchronous FHIR interactions, shared by every process of the store (any one may carry out or answer a request). */
export interface AsyncRequestStore {
  /** Stores a new pending request. */
  createRequest(request: NewAsyncRequest): Promise<void>;
  getRequest(id: string): Promise<AsyncRequest | undefined>;
  /**
   * Claims a pending request that nobody holds (no lease, or a lease that lapsed before `now`): it is held until
   * `leaseUntil`. Of concurrent claims exactly one succeeds; returns the request, or undefined.
   */
  claimRequest(id: string, now: number, leaseUntil: number): Promise<AsyncRequest | undefined>;
  /** Records the outcome of a pending request (its lease released); false when it is no longer pending or is gone. */
  finishRequest(id: string, status: 'completed' | 'failed', result: string, at: number): Promise<boolean>;
  /** Removes a request whatever its status (a cancel, or a finished one forgotten); returns it as it was. */
  deleteRequest(id: string): Promise<AsyncRequest | undefined>;
  /** Removes the requests that expired at `now`; returns how many. */
  purgeExpiredRequests(now: number): Promise<number>;
}

/** Everything one database gives. */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly resources: ResourceStore;
  readonly jobs: JobStore;
  readonly clients: ClientStore;
  readonly keys: KeyStore;
  readonly views: ViewStore;
  readonly audit: AuditStore;
  readonly tenants: TenantStore;
  readonly cohorts: CohortStore;
  readonly sessions: SessionStore;
  readonly asyncRequests: AsyncRequestStore;
  /** Resolves when the database answers and every migration of this version is applied; rejects with the reason. */
  check(): Promise<void>;
  close(): Promise<void>;
}
