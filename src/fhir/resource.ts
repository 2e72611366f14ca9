/** The FHIR resource vocabulary the rest of flatfhir is built on. */
import type { SearchValue } from './search-values.js';

/** A FHIR resource as parsed JSON. */
export interface FhirResource {
  resourceType: string;
  id: string;
  meta?: { versionId?: string; lastUpdated?: string; [k: string]: unknown };
  [k: string]: unknown;
}

/** What the writer computes for each resource before storing it (see fhir/prepare.ts). */
export interface PreparedResource {
  type: string;
  id: string;
  /** Stable hash of the content (without versionId/lastUpdated), used for idempotent re-import. */
  contentHash: string;
  /** Ids of the patients whose compartment holds this resource. */
  patients: string[];
  /** References the export follows: to Location/Organization/Practitioner, and Provenance targets. */
  refs: { type: string; id: string }[];
  /** Sort key for "latest" (Provenance.recorded as epoch ms), else null. */
  recordedAt: number | null;
  /** Values of the indexed search parameters (see fhir/search-values.ts), for dynamic group evaluation. */
  searchValues?: SearchValue[];
  /** The stored JSON text split where `"versionId":…,"lastUpdated":…` goes (see fhir/prepare.ts storedJson). */
  template: [head: string, tail: string];
}
