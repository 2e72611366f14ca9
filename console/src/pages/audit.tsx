import { useState } from 'preact/hooks';
import type { AuditEventView } from '../../../src/manage/views.js';
import { query } from '../api.js';
import { ErrorBox, fmtTime, Select, TextField, useResource } from '../components.js';

const ACTIONS = ['', 'token', 'export.kickoff', 'export.status', 'export.download', 'export.delete', 'export.expire', 'group', 'admin'];

/** datetime-local (taken as UTC) → ISO instant. */
const instant = (v: string): string | undefined => {
  const t = v ? Date.parse(`${v}Z`) : Number.NaN;
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
};

export function AuditPage({ tenant }: { tenant: string }) {
  const [client, setClient] = useState('');
  const [patient, setPatient] = useState('');
  const [action, setAction] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [filters, setFilters] = useState<Record<string, string | undefined>>({});
  const { data, error } = useResource<{ events: AuditEventView[]; next?: string }>(`/admin/audit${query({ tenant, ...filters })}`);
  const apply = (e: Event) => {
    e.preventDefault();
    setFilters({ client, patient, action, from: instant(from), to: instant(to) });
  };
  const byPatient = filters['patient'] && !filters['action'];
  return (
    <>
      <form class="panel" onSubmit={apply} aria-label="Filter the audit trail">
        <div class="inline">
          <TextField label="Client id" name="client" value={client} onInput={setClient} />
          <TextField label="Patient id" name="patient" value={patient} onInput={setPatient} hint="Alone: the exports that contained this patient" />
          <Select label="Action" name="action" value={action} onChange={setAction} options={ACTIONS.map((a) => ({ value: a, label: a || 'Any' }))} />
        </div>
        <div class="inline">
          <TextField label="From (UTC)" name="from" type="datetime-local" value={from} onInput={setFrom} />
          <TextField label="To (UTC)" name="to" type="datetime-local" value={to} onInput={setTo} />
        </div>
        <button type="submit">Search</button>
      </form>
      <ErrorBox error={error} />
      {byPatient && (
        <p role="status">
          Exports that contained patient <code>{filters['patient']}</code>: {data?.events.length ?? 0}
        </p>
      )}
      <table>
        <caption class="muted">Audit trail, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Time</th>
            <th scope="col">Action</th>
            <th scope="col">Outcome</th>
            <th scope="col">Tenant</th>
            <th scope="col">Client</th>
            <th scope="col">Job</th>
            <th scope="col">From</th>
            <th scope="col">Request</th>
          </tr>
        </thead>
        <tbody>
          {data?.events.map((e) => (
            <tr key={e.id} data-job={e.job_id ?? undefined}>
              <td>{fmtTime(e.time)}</td>
              <td>{e.action}</td>
              <td>
                <span class={`badge ${e.outcome === 'success' ? 'ok' : 'bad'}`}>{e.outcome}</span>
                {e.status !== null ? ` ${e.status}` : ''}
              </td>
              <td>{e.tenant ?? '—'}</td>
              <td>{e.client_id ? <code>{e.client_id.slice(0, 8)}</code> : '—'}</td>
              <td>{e.job_id ? <code>{e.job_id}</code> : '—'}</td>
              <td>{e.source ?? '—'}</td>
              <td>
                <code>{e.request ?? ''}</code>
                {e.detail ? <div class="muted">{e.detail}</div> : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.events.length === 0 && <p>No records match.</p>}
    </>
  );
}
