import type { Pool } from 'pg';
import type { CohortCriterion } from '../../fhir/member-filter.js';
import { cohortSql } from '../cohort-sql.js';
import type { CohortStore } from '../ports.js';
import { Params, query } from './db.js';

export class PostgresCohortStore implements CohortStore {
  constructor(private readonly pool: Pool) {}

  async matchPatients(tenant: string, criteria: CohortCriterion[], limit: number): Promise<string[]> {
    const p = new Params();
    const text = cohortSql(tenant, criteria, limit, {
      param: (v) => p.add(v, typeof v === 'number' ? 'bigint' : 'text'),
      contains: (h, n) => `strpos(${h}, ${n}) > 0`,
      notDeleted: 'NOT r.deleted',
      index: 'one-table',
    });
    return (await query<{ patient_id: string }>(this.pool, { text, values: p.values })).map((r) => r.patient_id);
  }

  async jobPatientIds(jobId: string): Promise<string[]> {
    return (await query<{ patient_id: string }>(this.pool, { text: 'SELECT patient_id FROM job_patients WHERE job_id = $1 ORDER BY patient_id', values: [jobId] })).map(
      (r) => r.patient_id,
    );
  }
}
