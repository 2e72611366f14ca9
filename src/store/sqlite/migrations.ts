import type Database from 'better-sqlite3';
import { rebuildSearchValues } from './search-index.js';

/**
 * Versioned schema of the SQLite store; each entry runs once, in order, inside a transaction: its SQL, then its
 * step over the data, if it has one.
 */
export const SQLITE_MIGRATIONS: { version: number; name: string; sql: string; run?: (db: Database.Database) => void }[] = [
  {
    version: 1,
    name: 'resources',
    sql: `
      CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        clock INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      CREATE TABLE resources (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        last_updated INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        hash TEXT NOT NULL,
        json TEXT
      ) STRICT;
      CREATE UNIQUE INDEX resources_key ON resources (tenant, type, id);
      CREATE INDEX resources_by_time ON resources (tenant, type, last_updated);

      CREATE TABLE resource_history (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        version INTEGER NOT NULL,
        last_updated INTEGER NOT NULL,
        deleted INTEGER NOT NULL DEFAULT 0,
        json TEXT,
        valid_to INTEGER NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX resource_history_key ON resource_history (tenant, type, id, version);
      CREATE INDEX resource_history_by_end ON resource_history (tenant, type, valid_to);

      CREATE TABLE compartment (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        id TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (tenant, type, patient_id, id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX compartment_by_resource ON compartment (tenant, type, id);

      CREATE TABLE refs (
        tenant TEXT NOT NULL,
        src_type TEXT NOT NULL,
        src_id TEXT NOT NULL,
        tgt_type TEXT NOT NULL,
        tgt_id TEXT NOT NULL,
        at INTEGER,
        PRIMARY KEY (tenant, src_type, src_id, tgt_type, tgt_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX refs_by_target ON refs (tenant, tgt_type, tgt_id, src_type, src_id);
    `,
  },
  {
    version: 2,
    name: 'export jobs',
    sql: `
      CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        client_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        request TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        params TEXT NOT NULL,
        transaction_time INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        completed_at INTEGER,
        expires_at INTEGER NOT NULL,
        total INTEGER NOT NULL DEFAULT 0,
        done INTEGER NOT NULL DEFAULT 0,
        error TEXT
      ) STRICT;
      CREATE UNIQUE INDEX jobs_one_running ON jobs (tenant, client_id) WHERE status = 'in-progress';
      CREATE INDEX jobs_by_hash ON jobs (tenant, client_id, request_hash);

      CREATE TABLE job_patients (
        job_id TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        full_history INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (job_id, patient_id)
      ) STRICT, WITHOUT ROWID;

      CREATE TABLE chunks (
        job_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        slice TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_until INTEGER,
        estimate INTEGER NOT NULL DEFAULT 0,
        count INTEGER NOT NULL DEFAULT 0,
        error TEXT,
        PRIMARY KEY (job_id, seq)
      ) STRICT;
      CREATE INDEX chunks_by_status ON chunks (status, lease_until);

      CREATE TABLE files (
        id TEXT PRIMARY KEY,
        job_id TEXT NOT NULL,
        chunk_seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        type TEXT NOT NULL,
        part INTEGER NOT NULL,
        object_key TEXT NOT NULL,
        count INTEGER NOT NULL,
        bytes INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX files_by_job ON files (job_id, chunk_seq, part);
    `,
  },
  {
    version: 3,
    name: 'clients',
    sql: `
      CREATE TABLE clients (
        client_id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        jwks TEXT,
        jwks_url TEXT,
        scope TEXT NOT NULL,
        disabled INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL
      ) STRICT;
      CREATE TABLE used_jti (
        client_id TEXT NOT NULL,
        jti TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (client_id, jti)
      ) STRICT, WITHOUT ROWID;
    `,
  },
  {
    version: 4,
    name: 'chunk lease owners and shared turns',
    sql: `
      ALTER TABLE chunks ADD COLUMN lease_owner TEXT;
      CREATE TABLE turns (
        task TEXT PRIMARY KEY,
        next_at INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    version: 5,
    name: 'view definitions',
    sql: `
      CREATE TABLE view_definitions (
        tenant TEXT NOT NULL,
        name TEXT NOT NULL,
        url TEXT,
        resource TEXT NOT NULL,
        definition TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (tenant, name)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX view_definitions_by_url ON view_definitions (tenant, url);
    `,
  },
  {
    version: 6,
    name: 'audit trail, token revocations, jobs by client',
    sql: `
      CREATE TABLE audit_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        action TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        tenant TEXT,
        client_id TEXT,
        source TEXT,
        job_id TEXT,
        request TEXT,
        detail TEXT
      ) STRICT;
      CREATE INDEX audit_events_by_time ON audit_events (at);
      CREATE INDEX audit_events_by_client ON audit_events (client_id, action, at);
      CREATE INDEX audit_events_by_job ON audit_events (job_id);

      CREATE TABLE audit_job_patients (
        patient_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        tenant TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (patient_id, job_id)
      ) STRICT, WITHOUT ROWID;
      CREATE INDEX audit_job_patients_by_time ON audit_job_patients (at);

      CREATE TABLE token_revocations (
        client_id TEXT PRIMARY KEY,
        revoked_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX token_revocations_by_time ON token_revocations (revoked_at);

      CREATE INDEX jobs_by_client ON jobs (tenant, client_id, created_at);
    `,
  },
  {
    version: 7,
    name: 'management: tenant names, search values',
    sql: `
      ALTER TABLE tenants ADD COLUMN name TEXT NOT NULL DEFAULT '';
      ALTER TABLE tenants ADD COLUMN created_at INTEGER;

      CREATE TABLE search_values (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        param TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        sys TEXT,
        val TEXT,
        lo INTEGER,
        hi INTEGER
      ) STRICT;
      CREATE INDEX search_values_by_value ON search_values (tenant, type, param, val, patient_id);
      CREATE INDEX search_values_by_date ON search_values (tenant, type, param, lo, hi);
      CREATE INDEX search_values_by_resource ON search_values (tenant, type, id, param);
    `,
  },
  {
    version: 8,
    name: 'console sessions',
    sql: `
      CREATE TABLE console_sessions (
        id TEXT PRIMARY KEY,
        csrf_token TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
    `,
  },
  {
    version: 9,
    name: 'covering search-value indexes',
    sql: `
      DROP INDEX search_values_by_value;
      DROP INDEX search_values_by_resource;
      CREATE INDEX search_values_by_value ON search_values (tenant, type, param, val, sys, patient_id, id);
      CREATE INDEX search_values_by_resource ON search_values (tenant, type, id, param, patient_id, sys, val, lo, hi);
    `,
  },
  {
    version: 10,
    name: 'asynchronous FHIR requests',
    sql: `
      CREATE TABLE async_requests (
        id TEXT PRIMARY KEY,
        tenant TEXT NOT NULL,
        client_id TEXT NOT NULL,
        request TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        created_at INTEGER NOT NULL,
        completed_at INTEGER,
        expires_at INTEGER NOT NULL,
        lease_until INTEGER
      ) STRICT;
      CREATE INDEX async_requests_by_expiry ON async_requests (expires_at);
      CREATE INDEX async_requests_by_tenant ON async_requests (tenant);
    `,
  },
  {
    version: 11,
    name: 'search values clustered by resource, value and date indexes over their own rows only',
    // The table is its own by-resource index (k numbers a resource's rows, to keep the key unique); the value index holds only rows with a
    // value (token, string, reference) and the date index only rows with a date range, so each value is written into
    // two B-trees instead of four.
    sql: `
      CREATE TABLE search_values_clustered (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        id TEXT NOT NULL,
        param TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        k INTEGER NOT NULL,
        sys TEXT,
        val TEXT,
        lo INTEGER,
        hi INTEGER,
        PRIMARY KEY (tenant, type, id, param, patient_id, k)
      ) STRICT, WITHOUT ROWID;
      INSERT INTO search_values_clustered (tenant, type, id, k, param, patient_id, sys, val, lo, hi)
        SELECT tenant, type, id, row_number() OVER (PARTITION BY tenant, type, id ORDER BY rowid) - 1, param, patient_id, sys, val, lo, hi
        FROM search_values;
      DROP TABLE search_values;
      ALTER TABLE search_values_clustered RENAME TO search_values;
      CREATE INDEX search_values_by_value ON search_values (tenant, type, param, val, sys, patient_id, id) WHERE val IS NOT NULL;
      CREATE INDEX search_values_by_date ON search_values (tenant, type, param, lo, hi, patient_id, id) WHERE lo IS NOT NULL;
    `,
  },
  {
    version: 12,
    name: 'search values of the resources stored before the search-value index',
    // Filled the index for what an earlier release stored without it; migration 13 extracts every resource's rows
    // again, so there is nothing left to do here.
    sql: '',
  },
  {
    version: 13,
    name: 'search values clustered by value only, tokens and dates apart',
    // Each value is one row in one B-tree: tokens, strings and references by (param, value, patient, resource),
    // dates by (param, range, patient, resource). There is no by-resource key: a resource's rows are found by
    // extracting them again from the version they were written from, so they are extracted again here, from the
    // stored resources, with the code that will remove them (see SEARCH_VALUES_VERSION).
    sql: `
      DROP TABLE search_values;
      CREATE TABLE search_tokens (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        param TEXT NOT NULL,
        val TEXT NOT NULL,
        patient_id TEXT NOT NULL,
        id TEXT NOT NULL,
        sys TEXT NOT NULL,
        PRIMARY KEY (tenant, type, param, val, patient_id, id, sys)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE search_dates (
        tenant TEXT NOT NULL,
        type TEXT NOT NULL,
        param TEXT NOT NULL,
        lo INTEGER NOT NULL,
        hi INTEGER NOT NULL,
        patient_id TEXT NOT NULL,
        id TEXT NOT NULL,
        PRIMARY KEY (tenant, type, param, lo, hi, patient_id, id)
      ) STRICT, WITHOUT ROWID;
      CREATE TABLE search_index (version INTEGER NOT NULL) STRICT;
    `,
    run: (db) => {
      rebuildSearchValues(db);
    },
  },
];
