/** Small builders of the value shapes every domain writes: instants, dates, references, quantities. */
import { type CodeableConcept, UCUM } from '../vocabulary/codes.js';

export const instant = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;
export const dateOnly = (ms: number): string => new Date(ms).toISOString().slice(0, 10);
const POW10 = [1, 10, 100, 1000];
export const round = (x: number, decimals: number): number => {
  const f = POW10[decimals] ?? 1;
  return Math.round(x * f) / f;
};
/** A concept's text without the SNOMED semantic tag, for note prose: "Viral sinusitis (disorder)" → "Viral sinusitis". */
export const label = (c: CodeableConcept): string => (c.text ?? '').replace(/ \([a-z/ ]+\)$/, '');
export const clamp = (x: number, lo: number, hi: number): number => (x < lo ? lo : x > hi ? hi : x);
export const ref = (reference: string): { reference: string } => ({ reference });
export const quantity = (value: number, unit: string, code: string = unit): object => ({ value, unit, system: UCUM, code });
export const days = (value: number): object => ({ value, unit: 'days', system: UCUM, code: 'd' });
