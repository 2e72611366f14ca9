import type { TenantView } from '../../src/manage/views.js';
import { useEffect, useState } from 'preact/hooks';
import { get } from './api.js';
import { Select, TextField } from './components.js';

const KEY = 'flatfhir.console.tenant';

/** The tenant the pages work on (kept for the tab's session), chosen among `GET /admin/tenants`. */
/** `tenants`: undefined while loading, null when the list is not available (the tenant is then typed in). */
export function useTenant(): { tenant: string; setTenant: (t: string) => void; tenants: TenantView[] | null | undefined; reload: () => void } {
  const [tenant, setTenantState] = useState(sessionStorage.getItem(KEY) ?? '');
  const [tenants, setTenants] = useState<TenantView[] | null | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    get<{ tenants: TenantView[] }>('/admin/tenants')
      .then((r) => {
        setTenants(r.tenants);
        if (r.tenants.length > 0 && !r.tenants.some((t) => t.id === tenant)) setTenant(r.tenants[0]!.id);
      })
      .catch(() => setTenants(null));
  }, [tick]);
  const setTenant = (t: string) => {
    sessionStorage.setItem(KEY, t);
    setTenantState(t);
  };
  return { tenant, setTenant, tenants, reload: () => setTick((n) => n + 1) };
}

export function TenantPicker({ tenant, setTenant, tenants }: { tenant: string; setTenant: (t: string) => void; tenants: TenantView[] | null | undefined }) {
  if (tenants === undefined) return <div class="toolbar" aria-busy="true" />;
  return (
    <div class="toolbar">
      {tenants ? (
        <Select
          label="Tenant"
          name="tenant"
          value={tenant}
          onChange={setTenant}
          options={[{ value: '', label: 'All tenants' }, ...tenants.map((t) => ({ value: t.id, label: t.name && t.name !== t.id ? `${t.name} (${t.id})` : t.id }))]}
        />
      ) : (
        <TextField label="Tenant" name="tenant" value={tenant} onInput={setTenant} />
      )}
    </div>
  );
}
