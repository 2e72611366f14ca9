import type { ColumnInfo } from './evaluate.js';

/**
 * The SQL type of a column, as DuckDB spells it: the `ansi/type` tag when the column carries one, otherwise the
 * SQL on FHIR default mapping (ViewDefinition, "Default Type Mappings"): boolean BOOLEAN, integer/positiveInt/
 * unsignedInt INTEGER, integer64 BIGINT, instant TIMESTAMPTZ, base64Binary BLOB, everything else VARCHAR in the
 * FHIR string form (date, dateTime and decimal included). A collection column is a LIST of its element type.
 */
export function sqlType(column: ColumnInfo): string {
  const base = column.ansiType ?? defaultSqlType(column.type);
  return column.collection ? `${base}[]` : base;
}

function defaultSqlType(type: string | undefined): string {
  switch (type) {
    case 'boolean':
      return 'BOOLEAN';
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
      return 'INTEGER';
    case 'integer64':
      return 'BIGINT';
    case 'instant':
      return 'TIMESTAMPTZ';
    case 'base64Binary':
      return 'BLOB';
    default:
      return 'VARCHAR';
  }
}

/** `ansi/type` values a view may ask for, and how DuckDB names them. */
const ANSI_TYPES: [RegExp, (m: RegExpExecArray) => string][] = [
  [/^BOOLEAN$/, () => 'BOOLEAN'],
  [/^(INT|INTEGER)$/, () => 'INTEGER'],
  [/^SMALLINT$/, () => 'SMALLINT'],
  [/^BIGINT$/, () => 'BIGINT'],
  [/^(DOUBLE|DOUBLE PRECISION|FLOAT)$/, () => 'DOUBLE'],
  [/^REAL$/, () => 'REAL'],
  [/^(DECIMAL|NUMERIC)\s*\(\s*(\d{1,2})\s*(?:,\s*(\d{1,2})\s*)?\)$/, (m) => `DECIMAL(${m[2]},${m[3] ?? 0})`],
  [/^DATE$/, () => 'DATE'],
  [/^TIMESTAMP$/, () => 'TIMESTAMP'],
  [/^TIMESTAMP WITH TIME ZONE$/, () => 'TIMESTAMPTZ'],
  [/^TIME$/, () => 'TIME'],
  [/^(CHARACTER VARYING|VARCHAR|TEXT)(\s*\(\s*\d+\s*\))?$/, () => 'VARCHAR'],
  [/^(BINARY|VARBINARY|BLOB)$/, () => 'BLOB'],
];

/** The DuckDB type for an `ansi/type` tag value, or undefined when it is not one flatfhir supports. */
export function ansiType(value: string): string | undefined {
  const v = value.trim().toUpperCase().replace(/\s+/g, ' ');
  for (const [re, name] of ANSI_TYPES) {
    const m = re.exec(v);
    if (m) {
      if (name(m).startsWith('DECIMAL(')) {
        const [p, s] = [Number(m[2]), Number(m[3] ?? 0)];
        if (p < 1 || p > 38 || s > p) return undefined;
      }
      return name(m);
    }
  }
  return undefined;
}
