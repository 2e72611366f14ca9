/** A small generated cohort written straight into a store: many patients, few resources each, and one Group. */
import { prepareResource } from '../../src/fhir/prepare.js';
import type { PreparedResource } from '../../src/fhir/resource.js';
import type { ResourceStore } from '../../src/store/ports.js';

export interface Cohort {
  groupId: string;
  /** Resources per exported type, as the Group export of every member returns them. */
  expected: Record<string, number>;
}

const pad = (n: number): string => String(n).padStart(5, '0');

/** Writes `patients` patients, each with `observations` Observations and one Condition, and a Group of them all. */
export async function writeCohort(resources: ResourceStore, tenant: string, patients: number, observations = 4): Promise<Cohort> {
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
        }),
      );
    }
    batch.push(prepareResource({ resourceType: 'Condition', id: `c${pad(i)}`, subject: { reference: `Patient/${id}` }, code: { text: 'x' } }));
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
  return { groupId, expected: { Patient: patients, Observation: patients * observations, Condition: patients } };
}
