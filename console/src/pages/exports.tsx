import type { JobDetailView, JobSummaryView } from '../../../src/manage/views.js';
import { useState } from 'preact/hooks';
import { api, enc, errorText, get, query } from '../api.js';
import { Confirm, ErrorBox, fmtBytes, fmtNumber, fmtTime, Notice, Select, useActions, useInterval, useResource } from '../components.js';

const percent = (j: JobSummaryView): number =>
  j.state === 'completed' ? 100 : j.progress.total > 0 ? Math.min(100, Math.floor((100 * j.progress.done) / j.progress.total)) : 0;

function StateBadge({ state }: { state: JobSummaryView['state'] }) {
  const cls = state === 'completed' ? 'ok' : state === 'in-progress' ? 'run' : 'bad';
  return <span class={`badge ${cls}`}>{state}</span>;
}

function perType(files: JobDetailView['files']): { type: string; files: number; resources: number; bytes: number }[] {
  const m = new Map<string, { type: string; files: number; resources: number; bytes: number }>();
  for (const f of files.filter((x) => x.kind === 'output')) {
    const row = m.get(f.type) ?? { type: f.type, files: 0, resources: 0, bytes: 0 };
    row.files++;
    row.resources += f.count;
    row.bytes += f.bytes;
    m.set(f.type, row);
  }
  return [...m.values()].sort((a, b) => a.type.localeCompare(b.type));
}

function JobPanel({ id, onClose }: { id: string; onClose: () => void }) {
  const { data, error, reload } = useResource<JobDetailView>(`/admin/jobs/${enc(id)}`);
  const [manifest, setManifest] = useState<string>();
  const [manifestError, setManifestError] = useState<string>();
  useInterval(reload, 1000, data?.state === 'in-progress');
  const open = async () => {
    try {
      setManifest(JSON.stringify(await get(`/admin/jobs/${enc(id)}/manifest`), null, 2));
    } catch (e) {
      setManifestError(errorText(e));
    }
  };
  return (
    <section class="panel" aria-labelledby="job-title">
      <h3 id="job-title">Export job {id}</h3>
      <ErrorBox error={error ?? manifestError} />
      {data && (
        <>
          <p>
            <StateBadge state={data.state} /> {data.kind} export by client <code>{data.client_id}</code>, started {fmtTime(data.created_at)}
            {data.completed_at ? `, finished ${fmtTime(data.completed_at)}` : ''}
          </p>
          <p>
            <code>{data.request}</code>
          </p>
          <h4>Parameters</h4>
          <pre tabIndex={0} aria-label="Parameters">{JSON.stringify(data.parameters, null, 2)}</pre>
          <table>
            <caption>Resources and bytes per type, as files complete</caption>
            <thead>
              <tr>
                <th scope="col">Type</th>
                <th scope="col" class="num">Files</th>
                <th scope="col" class="num">Resources</th>
                <th scope="col" class="num">Bytes</th>
              </tr>
            </thead>
            <tbody>
              {perType(data.files).map((r) => (
                <tr key={r.type}>
                  <th scope="row">{r.type}</th>
                  <td class="num">{fmtNumber(r.files)}</td>
                  <td class="num">{fmtNumber(r.resources)}</td>
                  <td class="num">{fmtBytes(r.bytes)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.errors.length > 0 && (
            <>
              <h4>Errors</h4>
              <ul>
                {data.errors.map((e) => (
                  <li key={e.seq}>
                    {e.type} (chunk {e.seq}, {e.state}, {e.attempts} attempts): {e.error}
                  </li>
                ))}
              </ul>
            </>
          )}
          {data.error && <p class="error">{data.error}</p>}
          <div class="actions">
            {data.state === 'completed' && (
              <button type="button" onClick={open}>
                Open manifest
              </button>
            )}
            <button type="button" class="secondary" onClick={onClose}>
              Close
            </button>
          </div>
          {manifest && (
            <pre aria-label="Manifest" tabIndex={0}>
              {manifest}
            </pre>
          )}
        </>
      )}
    </section>
  );
}

export function ExportsPage({ tenant }: { tenant: string }) {
  const [state, setState] = useState('');
  const { data, error, reload } = useResource<{ jobs: JobSummaryView[] }>(`/admin/jobs${query({ tenant, state, limit: 100 })}`);
  const [selected, setSelected] = useState<string>();
  const [cancelling, setCancelling] = useState<JobSummaryView>();
  const actions = useActions();
  const running = data?.jobs.some((j) => j.state === 'in-progress') ?? false;
  // Live progress: the list is polled every second while a job runs (every 5 s otherwise, to see new ones).
  useInterval(reload, running ? 1000 : 5000, true);

  const cancel = async () => {
    const j = cancelling;
    setCancelling(undefined);
    if (!j) return;
    await actions.run(async () => {
      await api('POST', `/admin/jobs/${enc(j.id)}/cancel`);
      reload();
      return `Export job ${j.id} cancelled.`;
    });
  };

  return (
    <>
      <div class="toolbar">
        <Select
          label="State"
          name="state"
          value={state}
          onChange={setState}
          options={[
            { value: '', label: 'Any' },
            { value: 'in-progress', label: 'In progress' },
            { value: 'completed', label: 'Completed' },
            { value: 'failed', label: 'Failed' },
            { value: 'deleted', label: 'Cancelled or deleted' },
          ]}
        />
      </div>
      <ErrorBox error={error ?? actions.error} />
      <Notice text={actions.notice} />
      <table>
        <caption class="muted">Export jobs{tenant ? ` of ${tenant}` : ''}, newest first</caption>
        <thead>
          <tr>
            <th scope="col">Job</th>
            <th scope="col">Client</th>
            <th scope="col">Request</th>
            <th scope="col">State</th>
            <th scope="col">Progress</th>
            <th scope="col">Started</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.jobs.map((j) => (
            <tr key={j.id} data-job={j.id}>
              <th scope="row">
                <code>{j.id.slice(0, 8)}</code>
              </th>
              <td>
                <code>{j.client_id.slice(0, 8)}</code>
              </td>
              <td>
                <code>{j.request.replace(/^https?:\/\/[^/]+/, '')}</code>
              </td>
              <td>
                <StateBadge state={j.state} />
              </td>
              <td>
                <progress max={100} value={percent(j)} aria-label={`Progress of job ${j.id.slice(0, 8)}`} />{' '}
                <span class="progress-text">{percent(j)}%</span>
                <div class="muted">
                  {fmtNumber(j.progress.done)} / {fmtNumber(j.progress.total)}
                </div>
              </td>
              <td>{fmtTime(j.created_at)}</td>
              <td>
                <div class="actions">
                  <button type="button" class="secondary" onClick={() => setSelected(j.id)} aria-label={`Details of job ${j.id.slice(0, 8)}`}>
                    Details
                  </button>
                  {j.state === 'in-progress' && (
                    <button type="button" class="danger" onClick={() => setCancelling(j)} aria-label={`Cancel job ${j.id.slice(0, 8)}`}>
                      Cancel
                    </button>
                  )}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.jobs.length === 0 && <p>No export jobs.</p>}
      {selected && <JobPanel id={selected} onClose={() => setSelected(undefined)} />}
      <Confirm open={!!cancelling} title={`Cancel export job ${cancelling?.id.slice(0, 8) ?? ''}?`} confirmLabel="Cancel the job" onConfirm={cancel} onCancel={() => setCancelling(undefined)}>
        <p>
          The job of client <code>{cancelling?.client_id}</code> stops and its files are deleted.
        </p>
      </Confirm>
    </>
  );
}
