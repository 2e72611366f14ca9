import type { PoolClient } from 'pg';
import { indexMissingSearchValues } from './search-reindex.js';

/**
 * Versioned schema of the PostgreSQL store; each entry runs once, in order, inside a transaction, in the
 * store's schema (the connection's `search_path`): its SQL, then its step over the data, if it has one.
 *
 * Mirrors sqlite/migrations.ts. Differences: epoch-millisecond and count columns are BIGINT, flags are
 * BOOLEAN, and every id-like column uses the "C" collation so ordering and range comparisons (id slices,
 * patient ranges, the smallest-patient dedupe) are byte order, as in SQLite, whatever the database locale.
 */
export const POSTGRES_MIGRATIONS: { version: number; name: string; sql: string; run?: (client: PoolClient) => Promise<void> }[] = [
  {
    version: 1,
    name: 'resources',
    sql: `
      CREATE TABLE tenants (
        id TEXT COLLATE "C" PRIMARY KEY,
        clock BIGINT NOT NULL DEFAULT 0
      );

      CREATE TABLE resources (
        tenant TEXT COLLATE "C" NOT NULL,
        type TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        version INTEGER NOT NULL,
        last_updated BIGINT NOT NULL,
        deleted BOOLEAN NOT NULL DEFAULT false,
        hash TEXT NOT NULL,
        json TEXT,
        CONSTRAINT resources_key PRIMARY KEY (tenant, type, id)
      );
      CREATE INDEX resources_by_time ON resources (tenant, type, last_updated);

      CREATE TABLE resource_history (
        tenant TEXT COLLATE "C" NOT NULL,
        type TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        version INTEGER NOT NULL,
        last_updated BIGINT NOT NULL,
        deleted BOOLEAN NOT NULL DEFAULT false,
        json TEXT,
        valid_to BIGINT NOT NULL,
        CONSTRAINT resource_history_key PRIMARY KEY (tenant, type, id, version)
      );
      CREATE INDEX resource_history_by_end ON resource_history (tenant, type, valid_to);

      CREATE TABLE compartment (
        tenant TEXT COLLATE "C" NOT NULL,
        type TEXT COLLATE "C" NOT NULL,
        patient_id TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        n INTEGER NOT NULL,
        CONSTRAINT compartment_key PRIMARY KEY (tenant, type, patient_id, id)
      );
      CREATE INDEX compartment_by_resource ON compartment (tenant, type, id);

      CREATE TABLE refs (
        tenant TEXT COLLATE "C" NOT NULL,
        src_type TEXT COLLATE "C" NOT NULL,
        src_id TEXT COLLATE "C" NOT NULL,
        tgt_type TEXT COLLATE "C" NOT NULL,
        tgt_id TEXT COLLATE "C" NOT NULL,
        at BIGINT,
        CONSTRAINT refs_key PRIMARY KEY (tenant, src_type, src_id, tgt_type, tgt_id)
      );
      CREATE INDEX refs_by_target ON refs (tenant, tgt_type, tgt_id, src_type, src_id);
    `,
  },
  {
    version: 2,
    name: 'export jobs',
    sql: `
      CREATE TABLE jobs (
        id TEXT COLLATE "C" PRIMARY KEY,
        tenant TEXT COLLATE "C" NOT NULL,
        client_id TEXT COLLATE "C" NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        params TEXT NOT NULL,
        transaction_time BIGINT NOT NULL,
        created_at BIGINT NOT NULL,
        completed_at BIGINT,
        expires_at BIGINT NOT NULL,
        total BIGINT NOT NULL DEFAULT 0,
        done BIGINT NOT NULL DEFAULT 0,
        error TEXT
      );
      CREATE UNIQUE INDEX jobs_one_running ON jobs (tenant, client_id) WHERE status = 'in-progress';
      CREATE INDEX jobs_by_hash ON jobs (tenant, client_id, request_hash);
      CREATE INDEX jobs_by_status ON jobs (status, created_at);

      CREATE TABLE job_patients (
        job_id TEXT COLLATE "C" NOT NULL,
        patient_id TEXT COLLATE "C" NOT NULL,
        full_history BOOLEAN NOT NULL DEFAULT false,
        CONSTRAINT job_patients_key PRIMARY KEY (job_id, patient_id)
      );

      CREATE TABLE chunks (
        job_id TEXT COLLATE "C" NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        slice TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_until BIGINT,
        estimate BIGINT NOT NULL DEFAULT 0,
        count BIGINT NOT NULL DEFAULT 0,
        error TEXT,
        CONSTRAINT chunks_key PRIMARY KEY (job_id, seq)
      );
      CREATE INDEX chunks_by_status ON chunks (status, lease_until);

      CREATE TABLE files (
        id TEXT COLLATE "C" PRIMARY KEY,
        job_id TEXT COLLATE "C" NOT NULL,
        chunk_seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        type TEXT NOT NULL,
        part INTEGER NOT NULL,
        object_key TEXT NOT NULL,
        count BIGINT NOT NULL,
        bytes BIGINT NOT NULL
      );
      CREATE INDEX files_by_job ON files (job_id, chunk_seq, part);
    `,
  },
  {
    version: 3,
    name: 'clients',
    sql: `
      CREATE TABLE clients (
        client_id TEXT COLLATE "C" PRIMARY KEY,
        tenant TEXT COLLATE "C" NOT NULL,
        name TEXT NOT NULL,
        jwks TEXT,
        jwks_url TEXT,
        scope TEXT NOT NULL,
        disabled BOOLEAN NOT NULL DEFAULT false,
        created_at BIGINT NOT NULL
      );
      CREATE INDEX clients_by_tenant ON clients (tenant, created_at, client_id);

      CREATE TABLE used_jti (
        client_id TEXT COLLATE "C" NOT NULL,
        jti TEXT COLLATE "C" NOT NULL,
        expires_at BIGINT NOT NULL,
        CONSTRAINT used_jti_key PRIMARY KEY (client_id, jti)
      );
      CREATE INDEX used_jti_by_expiry ON used_jti (expires_at);
    `,
  },
  {
    version: 4,
    name: 'chunk lease owners and shared turns',
    sql: `
      ALTER TABLE chunks ADD COLUMN lease_owner TEXT;
      CREATE TABLE turns (
        task TEXT PRIMARY KEY,
        next_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 5,
    name: 'shared keys',
    sql: `
      CREATE TABLE signing_keys (
        kid TEXT COLLATE "C" PRIMARY KEY,
        alg TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        private_jwk TEXT NOT NULL
      );

      CREATE TABLE secrets (
        name TEXT COLLATE "C" PRIMARY KEY,
        value TEXT NOT NULL,
        created_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'view definitions',
    sql: `
      CREATE TABLE view_definitions (
        tenant TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        url TEXT COLLATE "C",
        resource TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (tenant, name)
      );
      CREATE INDEX view_definitions_by_url ON view_definitions (tenant, url);
    `,
  },
  {
    version: 7,
    name: 'audit trail, token revocations, jobs by client',
    sql: `
      CREATE TABLE audit_events (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at BIGINT NOT NULL,
        action TEXT COLLATE "C" NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        tenant TEXT COLLATE "C",
        client_id TEXT COLLATE "C",
        source TEXT,
        job_id TEXT COLLATE "C",
        request TEXT,
        detail TEXT
      );
      CREATE INDEX audit_events_by_time ON audit_events (at);
      CREATE INDEX audit_events_by_client ON audit_events (client_id, action, at);
      CREATE INDEX audit_events_by_job ON audit_events (job_id);

      CREATE TABLE audit_job_patients (
        patient_id TEXT COLLATE "C" NOT NULL,
        job_id TEXT COLLATE "C" NOT NULL,
        tenant TEXT COLLATE "C" NOT NULL,
        at BIGINT NOT NULL,
        CONSTRAINT audit_job_patients_key PRIMARY KEY (patient_id, job_id)
      );
      CREATE INDEX audit_job_patients_by_time ON audit_job_patients (at);

      CREATE TABLE token_revocations (
        client_id TEXT COLLATE "C" PRIMARY KEY,
        revoked_at BIGINT NOT NULL
      );
      CREATE INDEX token_revocations_by_time ON token_revocations (revoked_at);

      CREATE INDEX jobs_by_client ON jobs (tenant, client_id, created_at);
    `,
  },
  {
    version: 8,
    name: 'management: tenant names, search values',
    sql: `
      ALTER TABLE tenants ADD COLUMN name TEXT NOT NULL DEFAULT '';
      ALTER TABLE tenants ADD COLUMN created_at BIGINT;

      CREATE TABLE search_values (
        tenant TEXT COLLATE "C" NOT NULL,
        type TEXT COLLATE "C" NOT NULL,
        id TEXT COLLATE "C" NOT NULL,
        param TEXT COLLATE "C" NOT NULL,
        patient_id TEXT COLLATE "C" NOT NULL,
        sys TEXT COLLATE "C",
        val TEXT COLLATE "C",
        lo BIGINT,
        hi BIGINT
      );
      CREATE INDEX search_values_by_value ON search_values (tenant, type, param, val, patient_id);
      CREATE INDEX search_values_by_date ON search_values (tenant, type, param, lo, hi);
      CREATE INDEX search_values_by_resource ON search_values (tenant, type, id, param);
    `,
  },
  {
    version: 9,
    name: 'console sessions',
    sql: `
      CREATE TABLE console_sessions (
        id TEXT COLLATE "C" PRIMARY KEY,
        csrf_token TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
    `,
  },
  {
    version: 10,
    name: 'covering search-value indexes',
    sql: `
      DROP INDEX search_values_by_value;
      DROP INDEX search_values_by_resource;
      CREATE INDEX search_values_by_value ON search_values (tenant, type, param, val, sys, patient_id, id);
      CREATE INDEX search_values_by_resource ON search_values (tenant, type, id, param, patient_id, sys, val, lo, hi);
    `,
  },
  {
    version: 11,
    name: 'asynchronous FHIR requests',
    sql: `
      CREATE TABLE async_requests (
        id TEXT COLLATE "C" PRIMARY KEY,
        tenant TEXT NOT NULL,
        client_id TEXT NOT NULL,
        request TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        created_at BIGINT NOT NULL,
        completed_at BIGINT,
        expires_at BIGINT NOT NULL,
        lease_until BIGINT
      );
      CREATE INDEX async_requests_by_expiry ON async_requests (expires_at);
      CREATE INDEX async_requests_by_tenant ON async_requests (tenant);
    `,
  },
  {
    version: 12,
    name: 'search values of the resources stored before the search-value index',
    sql: '',
    run: async (client) => {
      await indexMissingSearchValues(client);
    },
  },
];
