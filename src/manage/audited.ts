import type { AuditInput } from './audit-trail.js';

/** The methods of a management service that only read. */
const READS = new Set(['list', 'show']);

const kebab = (name: string): string => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * A management service whose every change (each method but `list` and `show`) is recorded in the audit trail,
 * succeeded or refused: for changes made where no HTTP route records them (the CLI working on the store).
 * `area` names the object (`tenant`, `group`): the action is `admin.<area>.<method>`, e.g. `admin.group.add-members`.
 */
export function auditChanges<T extends object>(area: string, service: T, record: (event: AuditInput) => void, source: string): T {
  return new Proxy(service, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function' || typeof prop !== 'string' || READS.has(prop)) return value;
      const method = value as (...args: unknown[]) => Promise<unknown>;
      return async (...args: unknown[]): Promise<unknown> => {
        const first = args[0] as string | { tenant?: unknown; id?: unknown } | undefined;
        const tenant = typeof first === 'string' ? first : typeof first?.tenant === 'string' ? first.tenant : typeof first?.id === 'string' ? first.id : null;
        const object = area !== 'tenant' && typeof args[1] === 'string' ? `${area} ${args[1]}` : undefined;
        const event = { action: `admin.${area}.${kebab(prop)}`, source, tenant, request: `flatfhir ${area} ${kebab(prop)}` };
        try {
          const result = await method.apply(target, args);
          // A new object is named by what the call returned (a created group's id).
          const made = (result as { id?: unknown } | undefined)?.id;
          const named = object ?? (area !== 'tenant' && typeof made === 'string' ? `${area} ${made}` : undefined);
          record({ ...event, outcome: 'success', ...(named ? { detail: named } : {}) });
          return result;
        } catch (e) {
          record({ ...event, outcome: 'failure', detail: `${object ? `${object}: ` : ''}${e instanceof Error ? e.message : String(e)}` });
          throw e;
        }
      };
    },
  });
}
