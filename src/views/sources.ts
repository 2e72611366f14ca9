import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { StoredResource } from '../store/ports.js';
import type { CompiledView, ViewRow } from './evaluate.js';

const BATCH_ROWS = 1000;

/** Evaluates a view over batches of stored rows (JSON text), yielding batches of output rows. */
export async function* viewRows(
  view: CompiledView,
  batches: AsyncIterable<StoredResource[]>,
  accept?: (resource: Record<string, unknown>) => boolean,
  onResources?: (n: number) => void,
): AsyncIterable<ViewRow[]> {
  let out: ViewRow[] = [];
  for await (const batch of batches) {
    for (const r of batch) {
      if (r.json === null) continue;
      const resource = JSON.parse(r.json) as Record<string, unknown>;
      if (accept && !accept(resource)) continue;
      for (const row of view.rows(resource)) out.push(row);
    }
    onResources?.(batch.length);
    if (out.length >= BATCH_ROWS) {
      yield out;
      out = [];
    }
  }
  if (out.length > 0) yield out;
}

/**
 * Rows of a view over NDJSON files (.ndjson, or .ndjson.gz / .gz), read line by line: resources of other types
 * are skipped (for example the whole output folder of a bulk export). A line that is not JSON fails with its
 * file and line number.
 */
export async function* ndjsonRows(view: CompiledView, files: string[], onResources?: (n: number) => void): AsyncIterable<ViewRow[]> {
  const marker = `"resourceType":"${view.resource}"`;
  for (const file of files) {
    const stream = createReadStream(file);
    const input = file.endsWith('.gz') ? stream.pipe(createGunzip()) : stream;
    let n = 0;
    let out: ViewRow[] = [];
    let read = 0;
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      n++;
      if (line.trim() === '') continue;
      read++;
      // Cheap pre-check for the common compact form; anything else is parsed and looked at.
      if (!line.includes(view.resource)) continue;
      let resource: Record<string, unknown>;
      try {
        resource = JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`${file}:${n}: not a JSON resource`);
      }
      if (!line.includes(marker) && resource.resourceType !== view.resource) continue;
      for (const row of view.rows(resource)) out.push(row);
      if (out.length >= BATCH_ROWS) {
        onResources?.(read);
        read = 0;
        yield out;
        out = [];
      }
    }
    onResources?.(read);
    if (out.length > 0) yield out;
  }
}
