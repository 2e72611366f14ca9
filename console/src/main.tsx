import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, errorText, get, setCsrfToken, whenUnauthorized } from './api.js';
import { ErrorBox, TextField } from './components.js';
import { AuditPage } from './pages/audit.js';
import { ClientsPage } from './pages/clients.js';
import { DashboardPage } from './pages/dashboard.js';
import { ExportsPage } from './pages/exports.js';
import { GroupsPage } from './pages/groups.js';
import { TenantsPage } from './pages/tenants.js';
import { TenantPicker, useTenant } from './tenant.js';

const PAGES = [
  { path: 'dashboard', title: 'Dashboard' },
  { path: 'tenants', title: 'Tenants' },
  { path: 'groups', title: 'Groups' },
  { path: 'clients', title: 'Clients' },
  { path: 'exports', title: 'Exports' },
  { path: 'audit', title: 'Audit' },
] as const;
type PagePath = (typeof PAGES)[number]['path'];

function currentPage(): PagePath {
  const p = location.hash.replace(/^#\/?/, '').split('?')[0] ?? '';
  return (PAGES.find((x) => x.path === p)?.path ?? 'dashboard') as PagePath;
}

function Login({ onLogin }: { onLogin: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    try {
      const s = await api<{ csrfToken: string }>('POST', '/admin/session', { token });
      setCsrfToken(s.csrfToken);
      setToken('');
      onLogin();
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <h1>flatfhir console</h1>
      <form onSubmit={submit} aria-label="Log in">
        <TextField label="Admin credential" name="token" type="password" value={token} onInput={setToken} required autocomplete="current-password" />
        <ErrorBox error={error} />
        <button type="submit" disabled={busy}>
          Log in
        </button>
      </form>
    </main>
  );
}

function Shell({ onLogout }: { onLogout: () => void }) {
  const [page, setPage] = useState<PagePath>(currentPage());
  const tenant = useTenant();
  useEffect(() => {
    const f = () => setPage(currentPage());
    addEventListener('hashchange', f);
    return () => removeEventListener('hashchange', f);
  }, []);
  const title = PAGES.find((p) => p.path === page)?.title ?? '';
  const first = useRef(true);
  useEffect(() => {
    document.title = `${title} · flatfhir console`;
    // After a page change (not on load), focus goes to the new page's content.
    if (!first.current) document.getElementById('main')?.focus();
    first.current = false;
  }, [title]);
  const logout = async () => {
    try {
      await api('DELETE', '/admin/session');
    } finally {
      onLogout();
    }
  };
  return (
    <div class="layout">
      <a class="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header class="sidebar">
        <h1>flatfhir console</h1>
        <nav aria-label="Console pages">
          <ul>
            {PAGES.map((p) => (
              <li key={p.path}>
                <a href={`#/${p.path}`} aria-current={p.path === page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <div class="logout">
          <button type="button" class="secondary" onClick={logout}>
            Log out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        <h2>{title}</h2>
        {page !== 'tenants' && <TenantPicker {...tenant} />}
        {page === 'dashboard' && <DashboardPage tenant={tenant.tenant} />}
        {page === 'tenants' && <TenantsPage onChanged={tenant.reload} />}
        {page === 'groups' && <GroupsPage tenant={tenant.tenant} />}
        {page === 'clients' && <ClientsPage tenant={tenant.tenant} />}
        {page === 'exports' && <ExportsPage tenant={tenant.tenant} />}
        {page === 'audit' && <AuditPage tenant={tenant.tenant} />}
      </main>
    </div>
  );
}

function App() {
  const [state, setState] = useState<'checking' | 'in' | 'out'>('checking');
  useEffect(() => {
    whenUnauthorized(() => setState('out'));
    get<{ csrfToken: string }>('/admin/session')
      .then((s) => {
        setCsrfToken(s.csrfToken);
        setState('in');
      })
      .catch(() => setState('out'));
  }, []);
  if (state === 'checking') return <p role="status">Loading…</p>;
  if (state === 'out') return <Login onLogin={() => setState('in')} />;
  return <Shell onLogout={() => setState('out')} />;
}

render(<App />, document.getElementById('app') as HTMLElement);
