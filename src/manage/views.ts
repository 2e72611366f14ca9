/**
 * The admin API's answers that the web console reads, as plain types (no imports), so the server that builds them
 * and the console (compiled on its own, for the browser) share one declaration.
 */

/** One record of the audit trail (`GET /admin/audit`). */
export interface AuditEventView {
  id: number;
  time: string;
  action: string;
  outcome: 'success' | 'failure';
  status: number | null;
  tenant: string | null;
  client_id: string | null;
  source: string | null;
  job_id: string | null;
  request: string | null;
  detail: string | null;
}

/** The dashboard's figures over the last day (`GET /admin/stats`). */
export interface DashboardStats {
  since: string;
  exportsRunning: number;
  exportsFinished: number;
  exportsFailed: number;
  resourcesExported: number;
  bytesExported: number;
  failedAuthentications: number;
  throughput: { start: string; resources: number; bytes: number }[];
}

/** The state of an export's chunk of work. */
export type ChunkState = 'pending' | 'running' | 'done' | 'failed';

/** How the CLI and the admin API show an export job (`GET /admin/jobs`). */
export interface JobSummaryView {
  id: string;
  tenant: string;
  client_id: string;
  kind: 'group' | 'patient' | 'system';
  state: 'in-progress' | 'completed' | 'failed' | 'deleted';
  request: string;
  created_at: string;
  completed_at: string | null;
  expires_at: string;
  progress: { done: number; total: number };
  error: string | null;
}

export interface JobDetailView extends JobSummaryView {
  transaction_time: string;
  parameters: Record<string, unknown>;
  timings: { created_at: string; completed_at: string | null; duration_ms: number | null; expires_at: string };
  chunks: Partial<Record<ChunkState, number>>;
  files: { id: string; kind: 'output' | 'error' | 'deleted'; type: string; count: number; bytes: number }[];
  totals: { files: number; resources: number; bytes: number };
  /** Chunks that failed (for now or for good), with their last error. */
  errors: { seq: number; type: string; state: ChunkState; attempts: number; error: string }[];
}

/** A member as `group show` lists it. */
export interface MemberView {
  patient: string;
  period_start: string | null;
  inactive: boolean;
}

/** How the CLI and the admin API show a group. */
export interface GroupView {
  id: string;
  tenant: string;
  name: string;
  /** static: listed members; dynamic: member-filter criteria evaluated at each export's kick-off. */
  kind: 'static' | 'dynamic';
  identifier: { system?: string; value: string }[];
  /** The Group resource's version (each member change makes one) and when it was written. */
  version: number;
  last_updated: string;
  /** Static: entries listed; dynamic: patients matching now (or in the job given with `as_of`). */
  member_count: number;
  criteria?: string[];
  /** Whether the criteria use relative dates (their members move with the kick-off time). */
  relative?: boolean;
  /** Whether a client created it through the Bulk Cohort API (`POST [base]/Group`; its meta.tag says so). */
  bulk_cohort_api: boolean;
  /** In `show` only: static members with their period and flag; dynamic members evaluated now or as of a job. */
  members?: MemberView[];
  /** Dynamic groups in `show`: the instant the members were evaluated at, or the job they were recorded by. */
  evaluated_at?: string;
  as_of_job?: string;
}

/** A tenant's live resources per type and its groups, clients and jobs. */
export interface TenantCounts {
  /** Live resources per type. */
  resources: Record<string, number>;
  groups: number;
  clients: number;
  jobs: number;
}

/** How the CLI and the admin API show a tenant. */
export interface TenantView {
  id: string;
  name: string;
  created_at: string | null;
  /** In `show` only. */
  counts?: TenantCounts;
}

/** How the CLI and the admin API show a client. */
export interface ClientView {
  client_id: string;
  tenant: string;
  name: string;
  scope: string;
  jwks_url: string | null;
  /** Inline JWKS, or null when the keys are fetched from `jwks_url`. */
  jwks: { keys: Record<string, unknown>[] } | null;
  disabled: boolean;
  created_at: string;
}

/** A client's activity from the audit trail (`GET /admin/clients/:id`). */
export interface ClientActivity {
  last_token_issued: string | null;
  last_export: { time: string; job_id: string | null; request: string | null } | null;
  failed_authentications_last_hour: number;
}
