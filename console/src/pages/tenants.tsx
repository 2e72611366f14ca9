import type { TenantView } from '../../../src/manage/views.js';
import { useEffect, useState } from 'preact/hooks';
import { api, enc, get } from '../api.js';
import { Confirm, ErrorBox, fmtNumber, Notice, TextField, useActions, useResource } from '../components.js';

const totalResources = (t: TenantView): number => Object.values(t.counts?.resources ?? {}).reduce((n, c) => n + c, 0);

export function TenantsPage({ onChanged }: { onChanged: () => void }) {
  const list = useResource<{ tenants: TenantView[] }>('/admin/tenants');
  const { error, reload } = list;
  // The list has no counts; each tenant's own answer does.
  const [data, setData] = useState<{ tenants: TenantView[] }>();
  useEffect(() => {
    const tenants = list.data?.tenants;
    if (!tenants) return;
    let live = true;
    setData({ tenants });
    void Promise.all(tenants.map((t) => (t.counts ? Promise.resolve(t) : get<TenantView>(`/admin/tenants/${enc(t.id)}`).catch(() => t)))).then(
      (full) => live && setData({ tenants: full }),
    );
    return () => {
      live = false;
    };
  }, [list.data]);
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const actions = useActions();
  const [removing, setRemoving] = useState<TenantView>();

  const create = async (e: Event) => {
    e.preventDefault();
    await actions.run(async () => {
      await api('POST', '/admin/tenants', { id, ...(name ? { name } : {}) });
      setId('');
      setName('');
      reload();
      onChanged();
      return `Tenant ${id} created.`;
    });
  };
  const remove = async () => {
    const t = removing;
    setRemoving(undefined);
    if (!t) return;
    await actions.run(async () => {
      await api('DELETE', `/admin/tenants/${enc(t.id)}?force=true`);
      reload();
      onChanged();
      return `Tenant ${t.id} removed.`;
    });
  };
  return (
    <>
      <ErrorBox error={error ?? actions.error} />
      <Notice text={actions.notice} />
      <table>
        <caption class="muted">Tenants and what each holds</caption>
        <thead>
          <tr>
            <th scope="col">Tenant</th>
            <th scope="col">Name</th>
            <th scope="col" class="num">Resources</th>
            <th scope="col">Per type</th>
            <th scope="col" class="num">Groups</th>
            <th scope="col" class="num">Clients</th>
            <th scope="col" class="num">Jobs</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.tenants.map((t) => (
            <tr key={t.id}>
              <th scope="row">{t.id}</th>
              <td>{t.name ?? ''}</td>
              <td class="num">{fmtNumber(totalResources(t))}</td>
              <td>
                <details>
                  <summary>{Object.keys(t.counts?.resources ?? {}).length} types</summary>
                  <ul>
                    {Object.entries(t.counts?.resources ?? {})
                      .sort()
                      .map(([type, n]) => (
                        <li key={type}>
                          {type}: {fmtNumber(n)}
                        </li>
                      ))}
                  </ul>
                </details>
              </td>
              <td class="num">{fmtNumber(t.counts?.groups)}</td>
              <td class="num">{fmtNumber(t.counts?.clients)}</td>
              <td class="num">{fmtNumber(t.counts?.jobs)}</td>
              <td>
                <button type="button" class="danger" onClick={() => setRemoving(t)} aria-label={`Remove tenant ${t.id}`}>
                  Remove
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.tenants.length === 0 && <p>No tenants yet.</p>}
      <form class="panel" onSubmit={create} aria-labelledby="new-tenant">
        <h3 id="new-tenant">New tenant</h3>
        <div class="inline">
          <TextField label="Tenant id" name="tenant-id" value={id} onInput={setId} required hint="Letters, digits, '-' and '.'" />
          <TextField label="Display name" name="tenant-name" value={name} onInput={setName} />
        </div>
        <button type="submit">Create tenant</button>
      </form>
      <Confirm open={!!removing} title={`Remove tenant ${removing?.id ?? ''}?`} confirmLabel={`Remove ${removing?.id ?? ''} and its data`} onConfirm={remove} onCancel={() => setRemoving(undefined)}>
        {removing && (
          <>
            <p>This deletes, for good:</p>
            <ul>
              <li>
                {fmtNumber(totalResources(removing))} resources ({Object.entries(removing.counts?.resources ?? {})
                  .map(([type, n]) => `${type} ${fmtNumber(n)}`)
                  .join(', ') || 'none'})
              </li>
              <li>{fmtNumber(removing.counts?.groups ?? 0)} groups</li>
              <li>{fmtNumber(removing.counts?.clients ?? 0)} client applications</li>
              <li>{fmtNumber(removing.counts?.jobs ?? 0)} export jobs and their files</li>
            </ul>
          </>
        )}
      </Confirm>
    </>
  );
}
