/** Local file names for a manifest: `Patient.000.ndjson`, `error.OperationOutcome.000.ndjson`, `deleted.Bundle.000.ndjson`. */
import type { DownloadedFile, FileKind, Manifest, PlannedFile, SummaryRow } from './types.js';

const PREFIX: Record<FileKind, string> = { output: '', error: 'error.', deleted: 'deleted.' };

/** A resource type as a safe file-name part (the manifest comes from the network). */
const safe = (type: string): string => type.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) || 'file';

export function planFiles(manifest: Manifest): PlannedFile[] {
  const counters = new Map<string, number>();
  const files: PlannedFile[] = [];
  const add = (kind: FileKind, entries: Manifest['output']): void => {
    for (const e of entries) {
      const stem = `${PREFIX[kind]}${safe(e.type)}`;
      const n = counters.get(stem) ?? 0;
      counters.set(stem, n + 1);
      files.push({
        kind,
        type: e.type,
        url: e.url,
        ...(typeof e.count === 'number' ? { count: e.count } : {}),
        name: `${stem}.${String(n).padStart(3, '0')}.ndjson`,
        index: files.length,
      });
    }
  };
  add('output', manifest.output);
  add('error', manifest.error);
  add('deleted', manifest.deleted ?? []);
  return files;
}

/**
 * The manifest as written to `manifest.json`: the server's, with each entry's local `file` name and the job's
 * `statusUrl` added (what a resume needs to recognise files of the same job).
 */
export function localManifest(manifest: Manifest, files: PlannedFile[], statusUrl?: string): Manifest {
  const byList = (kind: FileKind, entries: Manifest['output']): Manifest['output'] => {
    const mine = files.filter((f) => f.kind === kind);
    return entries.map((e, i) => ({ ...e, file: mine[i]?.name }));
  };
  return {
    ...manifest,
    ...(statusUrl !== undefined ? { statusUrl } : {}),
    output: byList('output', manifest.output),
    error: byList('error', manifest.error),
    ...(manifest.deleted ? { deleted: byList('deleted', manifest.deleted) } : {}),
  };
}

/** One row per kind and type: files, resources, bytes, failures; outputs first (by type), then errors and deletions. */
export function summarize(results: DownloadedFile[]): SummaryRow[] {
  const rows = new Map<string, SummaryRow>();
  for (const r of results) {
    const key = `${r.file.kind}\u0000${r.file.type}`;
    const row = rows.get(key) ?? { type: r.file.type, kind: r.file.kind, files: 0, resources: 0, bytes: 0, failed: 0 };
    row.files++;
    row.resources += r.resources;
    row.bytes += r.bytes;
    if (!r.ok) row.failed++;
    rows.set(key, row);
  }
  const order: Record<FileKind, number> = { output: 0, error: 1, deleted: 2 };
  return [...rows.values()].sort((a, b) => order[a.kind] - order[b.kind] || a.type.localeCompare(b.type));
}
