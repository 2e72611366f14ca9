/**
 * The shapes a bulk data client deals with: what to export (the kick-off request), what the server answers
 * (the manifest), and what the client produced (downloaded files and a summary).
 */

/** Which kind of export to start. */
export type ExportLevel =
  | { kind: 'group'; groupId: string }
  | { kind: 'patient' }
  | { kind: 'system' };

/** The kick-off parameters (FHIR Bulk Data Access v1/v2). Everything is optional except the level. */
export interface ExportRequest {
  level: ExportLevel;
  /** `_type`: resource types. */
  types?: string[];
  /** `_since`: a FHIR instant. */
  since?: string;
  /** `_until`: a FHIR instant (v2). */
  until?: string;
  /** `_typeFilter`: FHIR search queries such as `Condition?clinical-status=active`; repeated. */
  typeFilters?: string[];
  /** `_elements`: `element` or `Type.element`. */
  elements?: string[];
  /** `includeAssociatedData` values. */
  includeAssociatedData?: string[];
  /** `_outputFormat`. */
  outputFormat?: string;
  /** Patients (`Patient/id` or `id`): sends the kick-off as a POST Parameters body. */
  patients?: string[];
  /** `Prefer: handling=lenient`. */
  lenient?: boolean;
}

/** One entry of a manifest's `output`, `error` or `deleted` array. */
export interface ManifestEntry {
  type: string;
  url: string;
  count?: number;
  [extension: string]: unknown;
}

/** The completed status response. */
export interface Manifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: boolean;
  output: ManifestEntry[];
  error: ManifestEntry[];
  deleted?: ManifestEntry[];
  [extension: string]: unknown;
}

/** Which list of the manifest a file comes from. */
export type FileKind = 'output' | 'error' | 'deleted';

/** A manifest entry with the local name it is downloaded to. */
export interface PlannedFile {
  kind: FileKind;
  type: string;
  url: string;
  /** `count` from the manifest, when given. */
  count?: number;
  /** File name inside the output directory, e.g. `Patient.000.ndjson`. */
  name: string;
  /** Position in the download plan (0-based). */
  index: number;
}

export interface DownloadedFile {
  file: PlannedFile;
  ok: boolean;
  /** Bytes on disk (decoded). */
  bytes: number;
  /** NDJSON lines (resources) in the file. */
  resources: number;
  /** Why the download or the check failed. */
  error?: string;
  /** Already on disk from an earlier run (resume). */
  reused?: boolean;
}

export interface SummaryRow {
  /** A resource type, or `OperationOutcome (errors)` / `Bundle (deleted)`. */
  type: string;
  kind: FileKind;
  files: number;
  resources: number;
  bytes: number;
  failed: number;
}

export interface ExportResult {
  statusUrl: string;
  manifest: Manifest;
  files: DownloadedFile[];
  summary: SummaryRow[];
  /** Every file was downloaded and checked. */
  ok: boolean;
  /** The job was deleted on the server (or was already gone). */
  jobDeleted: boolean;
  outDir: string;
}
