import { describe, expect, it } from 'vitest';
import { isFhirResourceType, R4_RESOURCE_TYPES, readDefinition } from './known-types.js';

describe('R4 resource types', () => {
  it('are exactly the concrete resource StructureDefinitions of FHIR R4', () => {
    const bundle = readDefinition<{
      entry: { resource: { resourceType: string; kind?: string; abstract?: boolean; derivation?: string; type?: string } }[];
    }>('profiles-resources.json');
    const fromDefinitions = bundle.entry
      .map((e) => e.resource)
      .filter((r) => r.resourceType === 'StructureDefinition' && r.kind === 'resource' && !r.abstract && r.derivation !== 'constraint')
      .map((r) => r.type);
    expect([...R4_RESOURCE_TYPES].sort()).toEqual([...fromDefinitions].sort());
    expect(isFhirResourceType('Observation')).toBe(true);
    expect(isFhirResourceType('Resource')).toBe(false);
    expect(isFhirResourceType('Spaceship')).toBe(false);
  });
});
