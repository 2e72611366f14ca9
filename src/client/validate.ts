/** Checks a downloaded NDJSON file: every line parses, has the expected resourceType, and the count matches. */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

export interface NdjsonCheck {
  ok: boolean;
  /** Non-empty lines. */
  lines: number;
  error?: string;
}

/**
 * Reads `path` line by line. Empty lines are skipped (not counted). Stops at the first bad line.
 * `expectedCount` (the manifest's `count`) is compared with the number of lines.
 */
export async function checkNdjson(path: string, expectedType: string, expectedCount?: number): Promise<NdjsonCheck> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  let lineNo = 0;
  try {
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      n++;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        return { ok: false, lines: n, error: `line ${lineNo} is not JSON` };
      }
      const type = value && typeof value === 'object' && !Array.isArray(value) ? (value as { resourceType?: unknown }).resourceType : undefined;
      if (type !== expectedType) {
        return { ok: false, lines: n, error: `line ${lineNo} has resourceType ${JSON.stringify(type ?? null)}, expected ${expectedType}` };
      }
    }
  } finally {
    lines.close();
    input.destroy();
  }
  if (expectedCount !== undefined && n !== expectedCount) {
    return { ok: false, lines: n, error: `${n} resources, but the manifest's count is ${expectedCount}` };
  }
  return { ok: true, lines: n };
}
