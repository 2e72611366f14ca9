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
