/**
 * The store ports. Every adapter (sqlite/, postgres/) implements all of them on one database, so that an
 * export can join a job's patient set with the Patient-compartment index inside the database.
 *
 * Times are epoch milliseconds (integers). Each write batch of a tenant gets a timestamp strictly greater
 * than every earlier one of that tenant ("the tenant clock"), and `snapshotTime` returns an instant that
 * separates committed writes from later ones, so `until = snapshotTime()` is a consistent snapshot.
 */

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
   * Patients stored with `fullHistory` ignore `since`.
   */
  patients?: { jobId: string; from?: string; to?: string };
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
  /** How many rows `scan` would return (an upper bound is fine for `since`), for planning and progress. */
  count(request: ScanRequest): Promise<number>;
  /** Ids of live resources of a type, in order, every `step`-th one (boundaries for slicing). */
  idBoundaries(tenant: string, type: string, until: number, step: number): Promise<string[]>;
  /** Counts of live resources per type. */
  countByType(tenant: string): Promise<Record<string, number>>;
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

export interface NewJob extends Omit<ExportJob, 'status' | 'completedAt' | 'doneResources' | 'error' | 'totalResources'> {
  /** The job's patients (group members or listed patients), with whether each gets its full history. */
  patients?: { id: string; fullHistory: boolean }[];
}

export interface JobStore {
  /**
   * Creates the job unless the client already has one in progress for the tenant (returns that one instead,
   * as `{ conflict }`), atomically.
   */
  createJob(job: NewJob): Promise<{ job: ExportJob } | { conflict: ExportJob }>;
  getJob(id: string): Promise<ExportJob | undefined>;
  /** Jobs of a client not deleted, with this request hash (duplicate-request rejection). */
  findByRequestHash(tenant: string, clientId: string, requestHash: string): Promise<ExportJob | undefined>;
  listJobs(filter: { status?: JobStatus; expiredBefore?: number }): Promise<ExportJob[]>;
  /** How many jobs and chunks are in each status (statuses with none are absent), for metrics. */
  countByStatus(): Promise<{ jobs: Partial<Record<JobStatus, number>>; chunks: Partial<Record<ChunkStatus, number>> }>;
  /** Sets planned chunks (replacing any) and the job total, atomically. */
  planChunks(jobId: string, chunks: { type: string; slice: unknown; estimate: number }[], total: number): Promise<void>;
  listChunks(jobId: string): Promise<ExportChunk[]>;
  /** Takes the next pending chunk (or a running one whose lease expired) of any in-progress job. */
  claimChunk(leaseMs: number, now: number): Promise<ExportChunk | undefined>;
  renewLease(jobId: string, seq: number, leaseUntil: number): Promise<boolean>;
  /** Marks a chunk done and records its files and count, atomically; false if the job is no longer in progress. */
  completeChunk(jobId: string, seq: number, files: Omit<ExportFile, 'jobId' | 'chunkSeq'>[], count: number): Promise<boolean>;
  failChunk(jobId: string, seq: number, error: string, retry: boolean): Promise<void>;
  /** Sets status (and completedAt/error) when the job is still in progress; returns whether it changed. */
  finishJob(jobId: string, status: 'completed' | 'failed', at: number, error?: string): Promise<boolean>;
  /** Marks a job deleted; returns its files so the caller can delete their objects. */
  deleteJob(jobId: string): Promise<ExportFile[]>;
  /** Removes every trace of a job (after its objects are gone). */
  purgeJob(jobId: string): Promise<void>;
  listFiles(jobId: string): Promise<ExportFile[]>;
  getFile(fileId: string): Promise<ExportFile | undefined>;
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
  setClientDisabled(clientId: string, disabled: boolean): Promise<boolean>;
  removeClient(clientId: string): Promise<boolean>;
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

/** Everything one database gives. */
export interface Store {
  readonly kind: 'sqlite' | 'postgres';
  readonly resources: ResourceStore;
  readonly jobs: JobStore;
  readonly clients: ClientStore;
  readonly keys: KeyStore;
  /** Resolves when the database answers and every migration of this version is applied; rejects with the reason. */
  check(): Promise<void>;
  close(): Promise<void>;
}
