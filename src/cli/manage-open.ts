import { pino } from 'pino';
import { loadConfig } from '../config/index.js';
import { createAuditTrail } from '../manage/audit-trail.js';
import { auditChanges } from '../manage/audited.js';
import { createManagement } from '../manage/index.js';
import { remoteManagement } from '../manage/remote.js';
import type { OpenManagement } from './manage-shared.js';
import { openStoreFor } from './shared.js';

/**
 * The management services a command's options name: over the admin API of `--server` (with `--admin-token` or
 * FLATFHIR_ADMIN_TOKEN), else on the store and object storage of the configuration (`--data`, `--database-url`
 * over the environment).
 */
export const openManagement: OpenManagement = async (target) => {
  if (target.server !== undefined) {
    const adminToken = target.adminToken ?? process.env['FLATFHIR_ADMIN_TOKEN'];
    if (!adminToken) throw new Error('--server needs the admin token: give --admin-token or set FLATFHIR_ADMIN_TOKEN.');
    return { manage: remoteManagement({ server: target.server, adminToken }), close: async () => {} };
  }
  const config = loadConfig({
    ...(target.data !== undefined ? { dataDir: target.data } : {}),
    ...(target.databaseUrl !== undefined ? { databaseUrl: target.databaseUrl } : {}),
  });
  const store = await openStoreFor(config);
  try {
    const { openStorage } = await import('../storage/open.js');
    const storage = await openStorage(config, store.keys);
    // Changes made here are recorded as the admin API records its own (source `cli`).
    const audit = createAuditTrail({ store: store.audit, log: pino({ level: 'silent' }) });
    const record = (e: Parameters<typeof audit.record>[0]): void => audit.record(e);
    const manage = createManagement({ config, store, storage, audit });
    return {
      manage: { ...manage, tenants: auditChanges('tenant', manage.tenants, record, 'cli'), groups: auditChanges('group', manage.groups, record, 'cli') },
      async close() {
        await audit.flush();
        await storage.close();
        await store.close();
      },
    };
  } catch (e) {
    await store.close();
    throw e;
  }
};
