/** A small generated cohort written straight into a store: many patients, few resources each, and one Group. */
import { prepareResource, storedJson } from '../../src/fhir/prepare.js';
import type { PreparedResource } from '../../src/fhir/resource.js';
import { appendFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResourceStore } from '../../src/store/ports.js';

/** Where a cohort goes: a store, or anything that takes write batches. */
type CohortSink = Pick<ResourceStore, 'writeBatch'>;

/** A sink that writes NDJSON files (one per type) into a new temporary directory, for `flatfhir import`-style tests. */
export async function ndjsonSink(): Promise<{ sink: CohortSink; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-cohort-'));
  const sink: CohortSink = {
    async writeBatch(_tenant, batch) {
      const byType = new Map<string, string[]>();
      for (const r of batch) byType.set(r.type, [...(byType.get(r.type) ?? []), storedJson(r, 1, Date.UTC(2024, 0, 1))]);
      for (const [type, lines] of byType) await appendFile(join(dir, `${type}.ndjson`), `${lines.join('\n')}\n`);
      return { created: batch.length, updated: 0, unchanged: 0, deleted: 0 };
    },
  };
  return { sink, dir };
}

export interface Cohort {
  groupId: string;
  /** Resources per exported type, as the Group export of every member returns them. */
  expected: Record<string, number>;
}

const pad = (n: number): string => String(n).padStart(5, '0');

/**
 * Writes `patients` patients, each with `observations` Observations and one Condition, and a Group of them all;
 * with `provenance`, also a Practitioner per 50 patients (performer of their Observations) and a Provenance of
 * each Condition, so exports have referenced resources and Provenance to find.
 */
export async function writeCohort(resources: CohortSink, tenant: string, patients: number, observations = 4, provenance = false): Promise<Cohort> {
  const groupId = 'cohort';
  let batch: PreparedResource[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length > 0) await resources.writeBatch(tenant, batch);
    batch = [];
  };
  for (let i = 0; i < patients; i++) {
    const id = `p${pad(i)}`;
    batch.push(prepareResource({ resourceType: 'Patient', id, name: [{ family: `Family${i}` }], gender: i % 2 ? 'female' : 'male' }));
    for (let k = 0; k < observations; k++) {
      batch.push(
        prepareResource({
          resourceType: 'Observation',
          id: `o${pad(i)}-${k}`,
          status: 'final',
          code: { text: `code ${k}` },
          subject: { reference: `Patient/${id}` },
          valueQuantity: { value: i + k, unit: 'mg' },
          ...(provenance ? { performer: [{ reference: `Practitioner/pr${Math.floor(i / 50)}` }] } : {}),
        }),
      );
    }
    batch.push(prepareResource({ resourceType: 'Condition', id: `c${pad(i)}`, subject: { reference: `Patient/${id}` }, code: { text: 'x' } }));
    if (provenance) {
      if (i % 50 === 0) batch.push(prepareResource({ resourceType: 'Practitioner', id: `pr${i / 50}`, name: [{ family: 'Doe' }] }));
      batch.push(
        prepareResource({
          resourceType: 'Provenance',
          id: `prov${pad(i)}`,
          target: [{ reference: `Condition/c${pad(i)}` }],
          recorded: '2024-01-01T00:00:00Z',
          agent: [{ who: { reference: `Practitioner/pr${Math.floor(i / 50)}` } }],
        }),
      );
    }
    if (batch.length >= 2000) await flush();
  }
  batch.push(
    prepareResource({
      resourceType: 'Group',
      id: groupId,
      type: 'person',
      actual: true,
      member: Array.from({ length: patients }, (_, i) => ({ entity: { reference: `Patient/p${pad(i)}` } })),
    }),
  );
  await flush();
  const expected: Record<string, number> = { Patient: patients, Observation: patients * observations, Condition: patients };
  if (provenance) Object.assign(expected, { Provenance: patients, Practitioner: Math.ceil(patients / 50) });
  return { groupId, expected };
}
