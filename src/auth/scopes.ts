import { isFhirResourceType } from '../fhir/known-types.js';

/**
 * SMART system scopes, v1 (`system/Observation.read`, `system/*.read`) and v2 (`system/Observation.rs`, `system/*.r`),
 * and what flatfhir grants. The decisions:
 *
 * - Only `system/` scopes exist here. `patient/…`, `user/…`, `launch`, `openid`, `offline_access` and anything else
 *   make the request `invalid_scope`: a backend-services token has no other context.
 * - Read access (`r`, `s`) is granted on every type. The only writes the server offers are Group create and delete
 *   (the Bulk Cohort API), so `c` and `d` are kept on `Group` (and on `*`, where they mean Group) and dropped on
 *   every other type; `u` is always dropped (no update). v1 `.read` is `rs`, `.write` is `cud`, `.*` is `cruds`.
 *   So `system/*.cruds` grants `system/*.rs` and, when the client is pre-authorized for it, `system/Group.cd`;
 *   `system/*.*` grants `system/*.read` (and `system/Group.cd` likewise). A requested scope with nothing grantable
 *   at all (`system/Observation.write`, `.cud` on a type but Group) makes the whole request `invalid_scope` rather
 *   than being dropped silently.
 * - `r` (read) and `s` (search) both count as read access for `canRead`: a bulk export is a search returning whole
 *   resources, and SMART v2 `.rs` is v1 `.read`. `system/*.r` alone is enough to export (a certification trap).
 * - `?param=value` restrictions (SMART v2 fine-grained scopes) are refused with `invalid_scope`: flatfhir does not
 *   enforce search restrictions on exports, and granting a scope it would not honour would widen access.
 * - A resource type must be `*` or a FHIR R4 resource type; an unknown name is `invalid_scope`.
 * - A request beyond the client's pre-authorized scopes gets the intersection; an empty intersection is
 *   `invalid_scope`. Granted scopes keep the syntax of the request (a v1 request gets v1 scopes back when the whole
 *   `.read` is granted, else the v2 letters; writes are always given in v2 letters, on `Group`).
 * - Pre-authorized (registered) scopes are written as they are granted: read scopes on any type or `*`, and `c`,
 *   `d` only on `Group` (`system/Group.cd`, `system/Group.crds`).
 */

export type ScopePermission = 'c' | 'r' | 'd' | 's';

/** The only type the FHIR API writes (creates and deletes). */
const WRITABLE_TYPE = 'Group';

/** One scope reduced to what flatfhir can grant of it. */
export interface GrantedScope {
  /** A resource type, or `*`. */
  type: string;
  perms: ReadonlySet<ScopePermission>;
  /** The syntax it was written in, kept for formatting. */
  version: 1 | 2;
}

export type ScopeParse = { ok: true; scope: GrantedScope } | { ok: false; reason: string };

const SCOPE_RE = /^([A-Za-z]+)\/([^.?]+)\.([^.?]+)(\?.*)?$/;
const V2_PERMS_RE = /^c?r?u?d?s?$/;
const TYPE_RE = /^[A-Z][A-Za-z]{0,63}$/;

const ORDER: ScopePermission[] = ['c', 'r', 'd', 's'];
const canWrite = (type: string): boolean => type === '*' || type === WRITABLE_TYPE;

/** Parses one requested scope and reduces it to what can be granted of it (or says why nothing can). */
export function parseScope(token: string): ScopeParse {
  const m = SCOPE_RE.exec(token);
  if (!m) return { ok: false, reason: `"${token}" is not a SMART system scope (system/<Type|*>.<read|rs>)` };
  const [, context = '', type = '', permission = '', query] = m;
  if (context !== 'system') return { ok: false, reason: `"${token}": only system/ scopes are supported` };
  if (query !== undefined) return { ok: false, reason: `"${token}": scopes with ?param=value restrictions are not supported` };
  if (type !== '*' && !(TYPE_RE.test(type) && isFhirResourceType(type))) {
    return { ok: false, reason: `"${token}": ${type} is not a FHIR R4 resource type` };
  }
  let letters: string;
  let version: 1 | 2;
  if (permission === 'read' || permission === 'write' || permission === '*') {
    letters = permission === 'read' ? 'rs' : permission === 'write' ? 'cud' : 'cruds';
    version = 1;
  } else if (permission.length > 0 && V2_PERMS_RE.test(permission)) {
    letters = permission;
    version = 2;
  } else {
    return { ok: false, reason: `"${token}": unknown permission "${permission}" (use read, or an ordered subset of cruds)` };
  }
  const perms = new Set([...letters].filter((c): c is ScopePermission => c === 'r' || c === 's' || ((c === 'c' || c === 'd') && canWrite(type))));
  if (perms.size === 0) {
    return { ok: false, reason: `"${token}": only read access (r, s) is granted, and create and delete (c, d) on ${WRITABLE_TYPE}` };
  }
  return { ok: true, scope: { type, perms, version } };
}

/** Splits a space-separated scope string (RFC 6749 §3.3). */
export const splitScopes = (scope: string): string[] => scope.split(/[ ]+/).filter((s) => s.length > 0);

export function formatScope(s: GrantedScope): string {
  const read = s.perms.has('r') && s.perms.has('s');
  if (s.version === 1 && read && s.perms.size === 2) return `system/${s.type}.read`;
  return `system/${s.type}.${ORDER.filter((p) => s.perms.has(p)).join('')}`;
}

/**
 * Validates scopes to pre-authorize at registration: every one must be grantable exactly as written (read scopes
 * such as `system/*.rs`, `system/Observation.read`, `system/Patient.r`; `system/Group.cd` or `system/Group.crds`
 * for the Bulk Cohort API); returns the normalised string.
 */
export function validateRegistrationScope(scope: string): { ok: true; scope: string } | { ok: false; reason: string } {
  const tokens = splitScopes(scope);
  if (tokens.length === 0) return { ok: false, reason: 'at least one scope is required' };
  for (const t of tokens) {
    const p = parseScope(t);
    if (!p.ok) return p;
    if (p.scope.type === '*' && (p.scope.perms.has('c') || p.scope.perms.has('d'))) {
      return { ok: false, reason: `"${t}": create and delete can only be pre-authorized on ${WRITABLE_TYPE} (system/${WRITABLE_TYPE}.cd)` };
    }
    if (formatScope(p.scope) !== t) {
      return { ok: false, reason: `"${t}": only read scopes (read, r, s or rs) and system/${WRITABLE_TYPE} with c and d can be pre-authorized` };
    }
  }
  return { ok: true, scope: [...new Set(tokens)].join(' ') };
}

/** Parses scopes already known to be valid (pre-authorized or granted); invalid entries are skipped. */
export function parseGrantedScopes(scope: string): GrantedScope[] {
  const out: GrantedScope[] = [];
  for (const t of splitScopes(scope)) {
    const p = parseScope(t);
    if (p.ok) out.push(p.scope);
  }
  return out;
}

/** What a requested scope gets of one pre-authorized scope: its read part on the type, its writes on Group. */
function intersectOne(req: GrantedScope, pre: GrantedScope): GrantedScope[] {
  const type = req.type === '*' ? pre.type : pre.type === '*' || pre.type === req.type ? req.type : undefined;
  if (type === undefined) return [];
  const both = [...req.perms].filter((p) => pre.perms.has(p));
  const read = new Set(both.filter((p) => p === 'r' || p === 's'));
  const write = new Set(both.filter((p) => p === 'c' || p === 'd'));
  const out: GrantedScope[] = [];
  if (read.size > 0) out.push({ type, perms: read, version: req.version });
  if (write.size > 0) out.push({ type: WRITABLE_TYPE, perms: write, version: 2 });
  return out;
}

/** Merges scopes of the same type and drops those a wildcard already covers; keeps first-seen order. */
function simplify(scopes: GrantedScope[]): GrantedScope[] {
  const byType = new Map<string, { type: string; perms: Set<ScopePermission>; version: 1 | 2 }>();
  for (const s of scopes) {
    const prev = byType.get(s.type);
    if (prev) for (const p of s.perms) prev.perms.add(p);
    else byType.set(s.type, { type: s.type, perms: new Set(s.perms), version: s.version });
  }
  const wildcard = byType.get('*');
  return [...byType.values()].filter((s) => s.type === '*' || !wildcard || ![...s.perms].every((p) => wildcard.perms.has(p)));
}

export type ScopeDecision = { ok: true; scope: string; scopes: GrantedScope[] } | { ok: false; reason: string };

/**
 * Decides the scope to grant for a token request: every requested scope must parse (see the decisions above);
 * the grant is the intersection with the pre-authorized scopes, and must not be empty.
 */
export function grantScopes(requested: string, preAuthorized: string): ScopeDecision {
  const tokens = splitScopes(requested);
  if (tokens.length === 0) return { ok: false, reason: 'the scope parameter is empty' };
  const wanted: GrantedScope[] = [];
  for (const t of tokens) {
    const p = parseScope(t);
    if (!p.ok) return p;
    wanted.push(p.scope);
  }
  const allowed = parseGrantedScopes(preAuthorized);
  const granted = simplify(wanted.flatMap((w) => allowed.flatMap((a) => intersectOne(w, a))));
  if (granted.length === 0) {
    return { ok: false, reason: `none of the requested scopes is authorized for this client (authorized: ${preAuthorized})` };
  }
  return { ok: true, scope: granted.map(formatScope).join(' '), scopes: granted };
}

/** Whether granted scopes allow reading resources of a type (`r` or `s` on the type or on `*`). */
export function scopesAllowRead(scopes: readonly GrantedScope[], type: string): boolean {
  return scopes.some((s) => (s.type === '*' || s.type === type) && (s.perms.has('r') || s.perms.has('s')));
}

/** Whether granted scopes allow creating (`c`) or deleting (`d`) resources of a type (on the type or on `*`). */
export function scopesAllowWrite(scopes: readonly GrantedScope[], type: string, permission: 'c' | 'd'): boolean {
  return scopes.some((s) => (s.type === '*' || s.type === type) && s.perms.has(permission));
}
