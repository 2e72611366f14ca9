import type { GroupView } from '../../../src/manage/views.js';
import { useState } from 'preact/hooks';
import { api, enc, query } from '../api.js';
import { Confirm, ErrorBox, fmtNumber, fmtTime, Notice, splitIds, TextArea, TextField, useActions, useResource } from '../components.js';

/** An admin change of the group, from the audit trail. */
interface HistoryEntry {
  id: number;
  time: string;
  action: string;
  outcome: string;
  request: string | null;
  detail: string | null;
  client_id: string | null;
}

interface Preview {
  count: number;
  over_limit: boolean;
  members: string[];
  limit: number;
}

type Mode = 'ids' | 'search' | 'dynamic';

function GroupPanel({ tenant, id, limit, onChanged, onClose }: { tenant: string; id: string; limit: number | undefined; onChanged: () => void; onClose: () => void }) {
  const base = `/admin/tenants/${enc(tenant)}/groups/${enc(id)}`;
  const { data, error, reload } = useResource<GroupView>(base);
  const history = useResource<{ events: HistoryEntry[] }>(`/admin/audit${query({ tenant, action: 'admin.group', limit: 200 })}`);
  // What clients did through the Bulk Cohort API (group.create, group.delete): their records name the group `Group/{id}`.
  const clientHistory = useResource<{ events: HistoryEntry[] }>(`/admin/audit${query({ tenant, action: 'group', limit: 200 })}`);
  const byClients = clientHistory.data?.events.filter((e) => e.detail === `Group/${id}` || (e.detail ?? '').startsWith(`Group/${id}:`));
  const changes = history.data && [
    ...history.data.events.filter((e) => (e.request ?? '').includes(`/groups/${id}`) || (e.detail ?? '').includes(id)),
    ...(byClients ?? []),
  ].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : b.id - a.id));
  const creator = byClients?.find((e) => e.action === 'group.create' && e.outcome === 'success')?.client_id;
  const [ids, setIds] = useState('');
  const [picked, setPicked] = useState<Set<string>>(new Set());
  const actions = useActions();
  const change = async (what: 'add' | 'remove' | 'inactive' | 'active') => {
    const patients = what === 'add' ? splitIds(ids) : [...picked];
    if (patients.length === 0) return actions.fail(what === 'add' ? 'Paste at least one patient id.' : 'Tick at least one member.');
    await actions.run(async () => {
      const path = { add: 'members', remove: 'members/remove', inactive: 'members/inactive', active: 'members/inactive' }[what];
      await api('POST', `${base}/${path}`, what === 'inactive' || what === 'active' ? { patients, inactive: what === 'inactive' } : { patients });
      setIds('');
      setPicked(new Set());
      reload();
      history.reload();
      onChanged();
      return `${patients.length} member(s) ${{ add: 'added', remove: 'removed', inactive: 'marked inactive', active: 'marked active' }[what]}.`;
    });
  };
  const toggle = (m: string) => {
    const next = new Set(picked);
    if (next.has(m)) next.delete(m);
    else next.add(m);
    setPicked(next);
  };
  return (
    <section class="panel" aria-labelledby="group-title">
      <h3 id="group-title">Group {data?.name ?? id}</h3>
      <ErrorBox error={error ?? actions.error} />
      <Notice text={actions.notice} />
      {data && (
        <>
          <p>
            {data.kind} group <code>{data.id}</code>, version {data.version} of {fmtTime(data.last_updated)}: {fmtNumber(data.member_count)} members
            {limit ? ` of at most ${fmtNumber(limit)}` : ''}
            {data.evaluated_at ? ` (criteria evaluated ${fmtTime(data.evaluated_at)})` : ''}
          </p>
          {data.bulk_cohort_api && (
            <p>
              <span class="badge run">Bulk Cohort API</span> Created by {creator ? <>client <code>{creator}</code></> : 'a client'} through the Bulk Cohort API (<code>POST [base]/Group</code>).
            </p>
          )}
          {data.criteria && data.criteria.length > 0 && (
            <ul aria-label="Membership criteria">
              {data.criteria.map((c) => (
                <li key={c}>
                  <code>{c}</code>
                </li>
              ))}
            </ul>
          )}
          {data.members && (
            <table>
              <caption>Members</caption>
              <thead>
                <tr>
                  {data.kind === 'static' && <th scope="col">Select</th>}
                  <th scope="col">Patient</th>
                  <th scope="col">Member since</th>
                  <th scope="col">Inactive</th>
                </tr>
              </thead>
              <tbody>
                {data.members.map((m) => (
                  <tr key={m.patient}>
                    {data.kind === 'static' && (
                      <td>
                        <input type="checkbox" checked={picked.has(m.patient)} onChange={() => toggle(m.patient)} aria-label={`Select member ${m.patient}`} />
                      </td>
                    )}
                    <th scope="row">
                      <code>{m.patient}</code>
                    </th>
                    <td>{fmtTime(m.period_start)}</td>
                    <td>{m.inactive ? 'yes' : 'no'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {data.kind === 'static' && (
            <>
              <div class="actions">
                <button type="button" class="danger" onClick={() => change('remove')}>
                  Remove selected
                </button>
                <button type="button" class="secondary" onClick={() => change('inactive')}>
                  Mark selected inactive
                </button>
                <button type="button" class="secondary" onClick={() => change('active')}>
                  Mark selected active
                </button>
              </div>
              <TextArea label="Patient ids to add" name="add-ids" value={ids} onInput={setIds} hint="One per line, or separated by commas or spaces" />
              <button type="button" onClick={() => change('add')}>
                Add members
              </button>
            </>
          )}
        </>
      )}
      <h4>History</h4>
      <ErrorBox error={history.error ?? clientHistory.error} />
      {changes && changes.length === 0 && <p class="muted">No recorded changes.</p>}
      <ol aria-label="Changes of the group, newest first">
        {changes?.map((h) => (
          <li key={h.id}>
            {fmtTime(h.time)}: {h.action.startsWith('admin.') ? h.action.replace(/^admin\.group\./, '') : `${h.action.replace(/^group\./, '')} by client ${h.client_id ?? '?'} (Bulk Cohort API)`} ({h.outcome})
            {h.detail ? ` — ${h.detail}` : ''}
          </li>
        ))}
      </ol>
      <button type="button" class="secondary" onClick={onClose}>
        Close
      </button>
    </section>
  );
}

export function GroupsPage({ tenant }: { tenant: string }) {
  const { data, error, reload } = useResource<{ groups: GroupView[] }>(tenant ? `/admin/tenants/${enc(tenant)}/groups` : undefined);
  const settings = useResource<{ maxGroupMembers?: number }>('/admin/export-types');
  const limit = settings.data?.maxGroupMembers;
  const [mode, setMode] = useState<Mode>('ids');
  const [name, setName] = useState('');
  const [ids, setIds] = useState('');
  const [search, setSearch] = useState('Patient?');
  const [criteria, setCriteria] = useState('');
  const [preview, setPreview] = useState<Preview>();
  const [selected, setSelected] = useState<string>();
  const [removing, setRemoving] = useState<GroupView>();
  const actions = useActions();

  const criteriaList = (): string[] =>
    criteria
      .split('\n')
      .map((s) => s.trim())
      .filter(Boolean);
  const body = (): Record<string, unknown> => {
    if (mode === 'ids') return { name, patients: splitIds(ids) };
    if (mode === 'search') return { name, from_search: search };
    return { name, member_filter: criteriaList() };
  };
  const doPreview = () =>
    actions.run(async () => {
      setPreview(await api<Preview>('POST', `/admin/tenants/${enc(tenant)}/groups/preview`, mode === 'dynamic' ? { member_filter: criteriaList() } : { from_search: search }));
    });
  const create = async (e: Event) => {
    e.preventDefault();
    if (!tenant) return actions.fail('Choose a tenant first.');
    await actions.run(async () => {
      const g = await api<GroupView>('POST', `/admin/tenants/${enc(tenant)}/groups`, body());
      setName('');
      setIds('');
      setCriteria('');
      setPreview(undefined);
      reload();
      return `Group ${g.name} created (${g.id}).`;
    });
  };
  const remove = async () => {
    const g = removing;
    setRemoving(undefined);
    if (!g) return;
    await actions.run(async () => {
      await api('DELETE', `/admin/tenants/${enc(g.tenant)}/groups/${enc(g.id)}`);
      if (selected === g.id) setSelected(undefined);
      reload();
      return `Group ${g.name} removed.`;
    });
  };

  return (
    <>
      <ErrorBox error={error ?? actions.error} />
      <Notice text={actions.notice} />
      {!tenant && <p>Choose a tenant to see its groups.</p>}
      <table>
        <caption class="muted">Groups{tenant ? ` of ${tenant}` : ''}</caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Kind</th>
            <th scope="col" class="num">Members</th>
            <th scope="col">Size against the limit, or criteria</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.groups.map((g) => {
            // A dynamic group's members are known when it is evaluated (opened, or at an export's kick-off).
            const count = g.kind === 'dynamic' ? undefined : g.member_count;
            return (
              <tr key={g.id}>
                <th scope="row">
                  {g.name}
                  <div class="muted">
                    <code>{g.id}</code>
                  </div>
                </th>
                <td>
                  {g.kind}
                  {g.bulk_cohort_api && (
                    <div>
                      <span class="badge run">Bulk Cohort API</span>
                    </div>
                  )}
                </td>
                <td class="num">{count === undefined ? 'evaluated at export' : fmtNumber(count)}</td>
                <td>
                  {limit && count !== undefined ? (
                    <>
                      <progress max={limit} value={Math.min(limit, count)} aria-label={`${g.name}: members against the limit`} /> {fmtNumber(count)} / {fmtNumber(limit)}
                    </>
                  ) : (
                    (g.criteria ?? []).map((c) => (
                      <div key={c}>
                        <code>{c}</code>
                      </div>
                    ))
                  )}
                </td>
                <td>
                  <div class="actions">
                    <button type="button" class="secondary" onClick={() => setSelected(g.id)} aria-label={`Open group ${g.name}`}>
                      Open
                    </button>
                    <button type="button" class="danger" onClick={() => setRemoving(g)} aria-label={`Remove group ${g.name}`}>
                      Remove
                    </button>
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {data && data.groups.length === 0 && <p>No groups yet.</p>}
      {selected && <GroupPanel tenant={tenant} id={selected} limit={limit} onChanged={reload} onClose={() => setSelected(undefined)} />}

      <form class="panel" onSubmit={create} aria-labelledby="new-group">
        <h3 id="new-group">New group{tenant ? ` in ${tenant}` : ''}</h3>
        <TextField label="Group name" name="group-name" value={name} onInput={setName} required />
        <fieldset>
          <legend>Members</legend>
          <div class="inline">
            {(
              [
                ['ids', 'Static: pasted patient ids'],
                ['search', 'Static: from a Patient search'],
                ['dynamic', 'Dynamic: from criteria'],
              ] as const
            ).map(([value, label]) => (
              <label key={value}>
                <input
                  type="radio"
                  name="group-mode"
                  value={value}
                  checked={mode === value}
                  onChange={() => {
                    setMode(value);
                    setPreview(undefined);
                  }}
                />{' '}
                {label}
              </label>
            ))}
          </div>
          {mode === 'ids' && <TextArea label="Patient ids" name="patient-ids" value={ids} onInput={setIds} hint="One per line, or separated by commas or spaces" />}
          {mode === 'search' && <TextField label="Patient search" name="patient-search" value={search} onInput={setSearch} hint="e.g. Patient?gender=female&birthdate=ge1980" />}
          {mode === 'dynamic' && (
            <TextArea
              label="Criteria (one per line; a patient must match all)"
              name="criteria"
              value={criteria}
              onInput={setCriteria}
              hint="e.g. Encounter?status=finished&date=ge-7d and Condition?code=http://snomed.info/sct|44054006 (relative dates: ge-7d is 7 days before the kick-off)"
            />
          )}
          {mode !== 'ids' && (
            <button type="button" class="secondary" onClick={doPreview}>
              Preview members
            </button>
          )}
          {preview && (
            <div role="status" class="notice">
              <strong>{fmtNumber(preview.count)} patients</strong> match now
              {preview.over_limit ? `: more than the ${fmtNumber(preview.limit)} a group may have` : ` (a group may have at most ${fmtNumber(preview.limit)})`}
              {preview.members.length > 0 && (
                <>
                  : <code>{preview.members.slice(0, 20).join(', ')}</code>
                  {preview.members.length > 20 ? ' …' : ''}
                </>
              )}
            </div>
          )}
        </fieldset>
        <button type="submit">Create group</button>
      </form>
      <Confirm open={!!removing} title={`Remove group ${removing?.name ?? ''}?`} confirmLabel="Remove group" onConfirm={remove} onCancel={() => setRemoving(undefined)}>
        <p>
          {removing?.kind === 'dynamic' ? (
            <>
              Group <code>{removing.id}</code> and its criteria are removed{removing.bulk_cohort_api ? ' (a client created it through the Bulk Cohort API)' : ''}; the patients' data stays.
            </>
          ) : (
            <>
              Group <code>{removing?.id}</code> and its {fmtNumber(removing?.member_count)} memberships are removed; the patients' data stays.
            </>
          )}
        </p>
      </Confirm>
    </>
  );
}
