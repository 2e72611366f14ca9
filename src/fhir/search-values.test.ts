import { describe, expect, it } from 'vitest';
import { dateRange } from './search-values.js';

describe('dateRange', () => {
  it('gives the instants a FHIR date or dateTime covers', () => {
    expect(dateRange('2024')).toEqual({ lo: Date.UTC(2024, 0, 1), hi: Date.UTC(2025, 0, 1) - 1 });
    expect(dateRange('2024-02')).toEqual({ lo: Date.UTC(2024, 1, 1), hi: Date.UTC(2024, 2, 1) - 1 });
    expect(dateRange('2024-02-29')).toEqual({ lo: Date.UTC(2024, 1, 29), hi: Date.UTC(2024, 2, 1) - 1 });
    expect(dateRange('2024-05-01T08:00:00Z')).toEqual({ lo: Date.UTC(2024, 4, 1, 8), hi: Date.UTC(2024, 4, 1, 8) + 999 });
  });

  it('refuses months and days that do not exist rather than rolling them over', () => {
    for (const bad of ['2024-13', '2024-00', '2024-13-45', '2023-02-29', '2024-04-31', '2024-01-00', '2024-01-32T00:00:00Z']) {
      expect(dateRange(bad), bad).toBeUndefined();
    }
  });
});
