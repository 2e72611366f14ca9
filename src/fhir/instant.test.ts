import { describe, expect, it } from 'vitest';
import { isCalendarDateTime, parseInstant } from './instant.js';

describe('FHIR instants', () => {
  it('reads instants with Z or an offset, and fractions', () => {
    expect(parseInstant('2024-02-29T00:00:00Z')).toBe(Date.UTC(2024, 1, 29));
    expect(parseInstant('2024-01-01T01:30:00+01:30')).toBe(Date.UTC(2024, 0, 1, 0, 0));
    expect(parseInstant('2024-01-01T00:00:00.1234-05:00')).toBe(Date.UTC(2024, 0, 1, 5, 0, 0, 123));
    expect(parseInstant('0099-01-01T00:00:00Z')).toBe(new Date('0099-01-01T00:00:00Z').getTime());
  });

  it.each([
    '2024-02-30T00:00:00Z',
    '2023-02-29T00:00:00Z',
    '2024-04-31T00:00:00Z',
    '2024-13-01T00:00:00Z',
    '2024-00-10T00:00:00Z',
    '2024-01-00T00:00:00Z',
    '2024-01-01T24:00:00Z',
    '2024-01-01T00:60:00Z',
    '2024-01-01T00:00:61Z',
    '2024-01-01T00:00:00+14:30',
    '2024-01-01T00:00:00+01:60',
    '0000-01-01T00:00:00Z',
    '2024-01-01T00:00:00',
    '2024-01-01',
    '2024-01-01 00:00:00Z',
  ])('refuses %s', (value) => {
    expect(parseInstant(value)).toBeUndefined();
  });

  it('checks dates and dateTimes of search values against the calendar', () => {
    for (const ok of ['2024', '2024-02', '2024-02-29', '2024-02-29T10:00', '2024-02-29T10:00:00Z', '2000-02-29']) expect(isCalendarDateTime(ok), ok).toBe(true);
    for (const bad of ['2024-02-30', '1900-02-29', '2024-13', '2024-02-29T25:00', '24-01-01', 'yesterday']) expect(isCalendarDateTime(bad), bad).toBe(false);
  });
});
