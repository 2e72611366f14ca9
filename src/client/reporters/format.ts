/** Text formatting for people: sizes, durations and the summary table. */
import type { SummaryRow } from '../types.js';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i] ?? ''}`;
}

export const formatSeconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;

const label = (row: SummaryRow): string => (row.kind === 'output' ? row.type : `${row.type} (${row.kind === 'error' ? 'errors' : 'deleted'})`);

/** The summary table: type, files, resources, bytes (and failed, when anything failed), with a total line. */
export function formatSummary(rows: SummaryRow[]): string {
  const anyFailed = rows.some((r) => r.failed > 0);
  const header = ['type', 'files', 'resources', 'bytes', ...(anyFailed ? ['failed'] : [])];
  const outputs = rows.filter((r) => r.kind === 'output');
  const total = outputs.reduce(
    (t, r) => ({ ...t, files: t.files + r.files, resources: t.resources + r.resources, bytes: t.bytes + r.bytes, failed: t.failed + r.failed }),
    { files: 0, resources: 0, bytes: 0, failed: 0 },
  );
  const line = (r: { files: number; resources: number; bytes: number; failed: number }, name: string): string[] => [
    name,
    String(r.files),
    String(r.resources),
    formatBytes(r.bytes),
    ...(anyFailed ? [String(r.failed)] : []),
  ];
  const body = [...outputs.map((r) => line(r, label(r))), line(total, 'total'), ...rows.filter((r) => r.kind !== 'output').map((r) => line(r, label(r)))];
  const table = [header, ...body];
  const widths = header.map((_, i) => Math.max(...table.map((cells) => (cells[i] ?? '').length)));
  const render = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ').trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const totalIndex = outputs.length + 1;
  const lines = table.map(render);
  lines.splice(totalIndex, 0, rule);
  lines.splice(1, 0, rule);
  return `${lines.join('\n')}\n`;
}
