/**
 * Port decorators that report failed operations to Metrics: every method of the store's ports and of the object
 * storage passes through unchanged, and a returned promise that rejects counts one error of that operation.
 */
import type { ObjectStorage } from '../storage/ports.js';
import type { Store } from '../store/ports.js';
import type { Metrics } from './ports.js';

function countRejections<T extends object>(target: T, component: 'store' | 'storage', metrics: Metrics): T {
  return new Proxy(target, {
    get(t, property) {
      const value: unknown = Reflect.get(t, property, t);
      if (typeof value !== 'function') return value;
      const operation = String(property);
      return (...args: unknown[]) => {
        const result: unknown = (value as (...a: unknown[]) => unknown).apply(t, args);
        if (result instanceof Promise) {
          return result.catch((e: unknown) => {
            metrics.dependencyError(component, operation);
            throw e;
          });
        }
        return result;
      };
    },
  });
}

export function instrumentStore(store: Store, metrics: Metrics): Store {
  return {
    kind: store.kind,
    resources: countRejections(store.resources, 'store', metrics),
    jobs: countRejections(store.jobs, 'store', metrics),
    clients: countRejections(store.clients, 'store', metrics),
    keys: countRejections(store.keys, 'store', metrics),
    views: countRejections(store.views, 'store', metrics),
    audit: countRejections(store.audit, 'store', metrics),
    tenants: countRejections(store.tenants, 'store', metrics),
    cohorts: countRejections(store.cohorts, 'store', metrics),
    sessions: countRejections(store.sessions, 'store', metrics),
    asyncRequests: countRejections(store.asyncRequests, 'store', metrics),
    check: () => store.check(),
    close: () => store.close(),
  };
}

export function instrumentStorage(storage: ObjectStorage, metrics: Metrics): ObjectStorage {
  return countRejections(storage, 'storage', metrics);
}
