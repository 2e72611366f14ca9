import type { ClientActivity as Activity, ClientView } from '../../../src/manage/views.js';
import { useState } from 'preact/hooks';
import { api, enc, get, query } from '../api.js';
import { Confirm, ErrorBox, fmtNumber, fmtTime, Notice, Select, TextArea, TextField, useActions, useResource } from '../components.js';
import { download, generateKeyPair, jwksFromPaste, type KeyAlg } from '../keys.js';

/** A client as `GET /admin/clients/:id` shows it: with its activity from the audit trail. */
type ClientWithActivity = ClientView & { activity?: Activity };

type KeySource = 'generate' | 'jwks_url' | 'paste';

/** Lets a client create cohorts (POST [base]/Group) and delete them. */
const COHORT_SCOPE = 'system/Group.cd';

function ClientActivity({ id }: { id: string }) {
  const { data: client } = useResource<ClientWithActivity>(`/admin/clients/${enc(id)}`);
  const data = client?.activity;
  if (!data) return <td colSpan={3} class="muted">—</td>;
  return (
    <>
      <td>{fmtTime(data.last_token_issued)}</td>
      <td>{data.last_export ? `${fmtTime(data.last_export.time)}${data.last_export.job_id ? ` (${data.last_export.job_id.slice(0, 8)})` : ''}` : '—'}</td>
      <td class="num">{fmtNumber(data.failed_authentications_last_hour)}</td>
    </>
  );
}

export function ClientsPage({ tenant }: { tenant: string }) {
  const { data, error, reload } = useResource<{ clients: ClientWithActivity[] }>(`/admin/clients${query({ tenant })}`);
  const types = useResource<{ types: string[] }>('/admin/export-types');
  const [name, setName] = useState('');
  const [source, setSource] = useState<KeySource>('generate');
  const [alg, setAlg] = useState<KeyAlg>('ES384');
  const [jwksUrl, setJwksUrl] = useState('');
  const [pasted, setPasted] = useState('');
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [access, setAccess] = useState<'rs' | 'read'>('rs');
  const [cohorts, setCohorts] = useState(false);
  const actions = useActions();
  const [removing, setRemoving] = useState<ClientWithActivity>();
  const [busy, setBusy] = useState(false);

  const toggle = (t: string) => {
    const next = new Set(chosen);
    if (next.has(t)) next.delete(t);
    else next.add(t);
    setChosen(next);
  };
  const allTypes = types.data?.types ?? [];
  const readScope = (): string => (chosen.size === 0 || chosen.size === allTypes.length ? `system/*.${access}` : [...chosen].sort().map((t) => `system/${t}.${access}`).join(' '));
  /** Read scopes, and create and delete on Group for the Bulk Cohort API when ticked. */
  const scope = (): string => (cohorts ? `${readScope()} ${COHORT_SCOPE}` : readScope());

  const register = async (e: Event) => {
    e.preventDefault();
    if (!tenant) return actions.fail('Choose a tenant first.');
    setBusy(true);
    await actions.run(async () => {
      const body: Record<string, unknown> = { tenant, scope: scope(), ...(name ? { name } : {}) };
      let privateJwk: Record<string, unknown> | undefined;
      if (source === 'generate') {
        const pair = await generateKeyPair(alg);
        body['jwks'] = { keys: [pair.publicJwk] };
        privateJwk = pair.privateJwk;
      } else if (source === 'jwks_url') {
        body['jwks_url'] = jwksUrl;
      } else {
        body['jwks'] = await jwksFromPaste(pasted);
      }
      const client = await api<ClientWithActivity>('POST', '/admin/clients', body);
      if (privateJwk) {
        const fhirBaseUrl = `${location.origin}/r4/${client.tenant}`;
        const smart = await get<{ token_endpoint?: string }>(`/r4/${enc(client.tenant)}/.well-known/smart-configuration`).catch(() => undefined);
        const file = { clientId: client.client_id, fhirBaseUrl, tokenUrl: smart?.token_endpoint ?? `${fhirBaseUrl}/token`, scope: client.scope, privateJwk };
        download(`flatfhir-client-${client.client_id}.json`, `${JSON.stringify(file, null, 2)}\n`);
      }
      setName('');
      setCohorts(false);
      setPasted('');
      setJwksUrl('');
      reload();
      return privateJwk
        ? `Client ${client.client_id} registered. Its client file (with the private key) was offered as a download; it is not kept anywhere else.`
        : `Client ${client.client_id} registered.`;
    });
    setBusy(false);
  };

  const act = (c: ClientWithActivity, action: 'disable' | 'enable') =>
    actions.run(async () => {
      await api('POST', `/admin/clients/${enc(c.client_id)}/${action}`);
      reload();
      return `Client ${c.client_id} ${action}d.`;
    });
  const remove = async () => {
    const c = removing;
    setRemoving(undefined);
    if (!c) return;
    await actions.run(async () => {
      await api('DELETE', `/admin/clients/${enc(c.client_id)}`);
      reload();
      return `Client ${c.client_id} removed.`;
    });
  };

  return (
    <>
      <ErrorBox error={error ?? actions.error} />
      <Notice text={actions.notice} />
      <table>
        <caption class="muted">Client applications{tenant ? ` of ${tenant}` : ''}</caption>
        <thead>
          <tr>
            <th scope="col">Client</th>
            <th scope="col">Scopes</th>
            <th scope="col">State</th>
            <th scope="col">Last token</th>
            <th scope="col">Last export</th>
            <th scope="col" class="num">Failed auth (1 h)</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {data?.clients.map((c) => (
            <tr key={c.client_id} data-client={c.client_id}>
              <th scope="row">
                {c.name || '(no name)'}
                <div class="muted">
                  <code>{c.client_id}</code>
                </div>
              </th>
              <td>
                <code>{c.scope}</code>
              </td>
              <td>{c.disabled ? <span class="badge bad">disabled</span> : <span class="badge ok">enabled</span>}</td>
              <ClientActivity id={c.client_id} />
              <td>
                <div class="actions">
                  {c.disabled ? (
                    <button type="button" class="secondary" onClick={() => act(c, 'enable')} aria-label={`Enable ${c.name || c.client_id}`}>
                      Enable
                    </button>
                  ) : (
                    <button type="button" class="secondary" onClick={() => act(c, 'disable')} aria-label={`Disable ${c.name || c.client_id}`}>
                      Disable
                    </button>
                  )}
                  <button type="button" class="danger" onClick={() => setRemoving(c)} aria-label={`Remove ${c.name || c.client_id}`}>
                    Remove
                  </button>
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.clients.length === 0 && <p>No client applications{tenant ? ` for ${tenant}` : ''}.</p>}

      <form class="panel" onSubmit={register} aria-labelledby="new-client">
        <h3 id="new-client">Register a client application{tenant ? ` for ${tenant}` : ''}</h3>
        <TextField label="Name" name="client-name" value={name} onInput={setName} />
        <fieldset>
          <legend>Public key</legend>
          <div class="inline">
            {(
              [
                ['generate', 'Generate a key pair'],
                ['jwks_url', 'JWKS URL'],
                ['paste', 'Paste a JWKS or PEM'],
              ] as const
            ).map(([value, label]) => (
              <label key={value}>
                <input type="radio" name="key-source" value={value} checked={source === value} onChange={() => setSource(value)} /> {label}
              </label>
            ))}
          </div>
          {source === 'generate' && (
            <Select
              label="Algorithm"
              name="alg"
              value={alg}
              onChange={(v) => setAlg(v as KeyAlg)}
              options={[
                { value: 'ES384', label: 'ES384 (EC P-384)' },
                { value: 'RS384', label: 'RS384 (RSA 2048)' },
              ]}
            />
          )}
          {source === 'jwks_url' && <TextField label="JWKS URL" name="jwks-url" type="url" value={jwksUrl} onInput={setJwksUrl} required />}
          {source === 'paste' && <TextArea label="JWKS, JWK or PEM public key" name="jwks-paste" value={pasted} onInput={setPasted} rows={6} />}
        </fieldset>
        <fieldset>
          <legend>Pre-authorized scopes</legend>
          <div class="inline">
            <label>
              <input type="radio" name="access" value="rs" checked={access === 'rs'} onChange={() => setAccess('rs')} /> read and search (.rs)
            </label>
            <label>
              <input type="radio" name="access" value="read" checked={access === 'read'} onChange={() => setAccess('read')} /> read (.read)
            </label>
          </div>
          <p class="muted">No type ticked means every exported type (system/*).</p>
          <div class="checks">
            {allTypes.map((t) => (
              <label key={t}>
                <input type="checkbox" name="scope-type" value={t} checked={chosen.has(t)} onChange={() => toggle(t)} /> {t}
              </label>
            ))}
          </div>
          <div class="inline">
            <label>
              <input type="checkbox" name="scope-cohorts" checked={cohorts} onChange={() => setCohorts(!cohorts)} />
              <span>
                Bulk Cohort API: create and delete groups defined by criteria (<code>{COHORT_SCOPE}</code>)
              </span>
            </label>
          </div>
          <p>
            Scope: <code>{scope()}</code>
          </p>
        </fieldset>
        <button type="submit" disabled={busy}>
          Register client
        </button>
      </form>
      <Confirm
        open={!!removing}
        title={`Remove client ${removing?.name || removing?.client_id || ''}?`}
        confirmLabel="Remove client"
        onConfirm={remove}
        onCancel={() => setRemoving(undefined)}
      >
        <p>
          Client <code>{removing?.client_id}</code> of tenant {removing?.tenant} can no longer get tokens, and its current tokens stop working.
        </p>
      </Confirm>
    </>
  );
}
