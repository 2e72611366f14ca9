import type { TypedValue } from '@medplum/core';

/** A compiled path, or undefined when the path needs the full FHIRPath engine. */
export function compileFastPath(_path: string): ((input: TypedValue, vars: Record<string, TypedValue>) => TypedValue[]) | undefined {
  return undefined;
}
