import { describe, expect, it } from 'vitest';
import { buildKickoff } from './kickoff.js';

describe('buildKickoff', () => {
  it('GETs with query parameters', () => {
    const k = buildKickoff('https://ehr.example/fhir/', {
      level: { kind: 'group', groupId: 'a/b' },
      types: ['Patient', ' Condition '],
      since: '2024-01-01T00:00:00Z',
      typeFilters: ['Condition?clinical-status=active', 'Condition?category=problem-list-item'],
    });
    expect(k.method).toBe('GET');
    expect(k.headers).toEqual({ accept: 'application/fhir+json', prefer: 'respond-async' });
    const url = new URL(k.url);
    expect(url.pathname).toBe('/fhir/Group/a%2Fb/$export');
    expect(url.searchParams.get('_type')).toBe('Patient,Condition');
    expect(url.searchParams.get('_since')).toBe('2024-01-01T00:00:00Z');
    expect(url.searchParams.getAll('_typeFilter')).toEqual(['Condition?clinical-status=active', 'Condition?category=problem-list-item']);
  });

  it('has no query string without parameters, and asks for lenient handling when told', () => {
    expect(buildKickoff('https://x/fhir', { level: { kind: 'system' }, lenient: true })).toEqual({
      method: 'GET',
      url: 'https://x/fhir/$export',
      headers: { accept: 'application/fhir+json', prefer: 'respond-async, handling=lenient' },
    });
  });

  it('POSTs a Parameters resource when patients are listed', () => {
    const k = buildKickoff('https://x/fhir', { level: { kind: 'patient' }, patients: ['1', 'Patient/2'], since: '2024-01-01T00:00:00Z' });
    expect(k.method).toBe('POST');
    expect(k.url).toBe('https://x/fhir/Patient/$export');
    expect(k.headers['content-type']).toBe('application/fhir+json');
    expect(JSON.parse(k.body ?? '')).toEqual({
      resourceType: 'Parameters',
      parameter: [
        { name: '_since', valueInstant: '2024-01-01T00:00:00Z' },
        { name: 'patient', valueReference: { reference: 'Patient/1' } },
        { name: 'patient', valueReference: { reference: 'Patient/2' } },
      ],
    });
  });
});
