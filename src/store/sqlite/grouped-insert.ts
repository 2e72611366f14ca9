import type Database from 'better-sqlite3';

/**
 * Rows per multi-row INSERT of a batch write. A statement execution costs about as much as the B-tree work of a
 * row, so new resources and their compartment, reference and search rows go in groups (7 × 64 parameters, far
 * below SQLite's limit).
 */
export const ROWS_PER_INSERT = 64;

/** `row` (a placeholder tuple) `rows` times, comma-separated: the VALUES list of a multi-row INSERT. */
export const valuesList = (rows: number, row: string): string => Array.from({ length: rows }, () => row).join(', ');

/** Runs `grouped` over `ROWS_PER_INSERT` rows at a time and `single` over the rest (`width` parameters a row). */
export function insertGrouped(grouped: Database.Statement, single: Database.Statement, params: unknown[], width: number): void {
  const step = ROWS_PER_INSERT * width;
  let i = 0;
  for (; i + step <= params.length; i += step) grouped.run(params.slice(i, i + step));
  for (; i < params.length; i += width) single.run(params.slice(i, i + width));
}
