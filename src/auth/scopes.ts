import { isFhirResourceType } from '../fhir/known-types.js';

/**
 * SMART system scopes, v1 (`system/Observation.read`, `system/*.read`) and v2 (`system/Observation.rs`, `system/*.r`),
 * and what flatfhir grants. The decisions:
 *
 * - Only `system/` scopes exist here. `patient/…`, `user/…`, `launch`, `openid`, `offline_access` and anything else
 *   make the request `invalid_scope`: a backend-services token has no other context.
 * - Only read access is ever granted. v1 `.read` and `.*` grant `.read`; v2 keeps the letters `r` and `s` of an
 *   ordered `cruds` subset and drops `c`, `u`, `d` (so `system/*.cruds` grants `system/*.rs`, `system/*.*` grants
 *   `system/*.read`). A requested scope with no read part at all (`.write`, `.cud`) makes the whole request
 *   `invalid_scope` rather than being dropped silently.
 * - `r` (read) and `s` (search) both count as read access for `canRead`: a bulk export is a search returning whole
 *   resources, and SMART v2 `.rs` is v1 `.read`. `system/*.r` alone is enough to export (a certification trap).
 * - `?param=value` restrictions (SMART v2 fine-grained scopes) are refused with `invalid_scope`: flatfhir does not
 *   enforce search restrictions on exports, and granting a scope it would not honour would widen access.
 * - A resource type must be `*` or a FHIR R4 resource type; an unknown name is `invalid_scope`.
 * - A request beyond the client's pre-authorized scopes gets the intersection; an empty intersection is
 *   `invalid_scope`. Granted scopes keep the syntax of the request (a v1 request gets v1 scopes back when the whole
 *   `.read` is granted, else the v2 letters).
 */

export type ReadPermission = 'r' | 's';

/** One scope reduced to its read part. */
export interface ReadScope {
  /** A resource type, or `*`. */
  type: string;
  perms: ReadonlySet<ReadPermission>;
  /** The syntax it was written in, kept for formatting. */
  version: 1 | 2;
}

export type ScopeParse = { ok: true; scope: ReadScope } | { ok: false; reason: string };

const SCOPE_RE = /^([A-Za-z]+)\/([^.?]+)\.([^.?]+)(\?.*)?$/;
const V2_PERMS_RE = /^c?r?u?d?s?$/;
const TYPE_RE = /^[A-Z][A-Za-z]{0,63}$/;

/** Parses one requested scope and reduces it to its read part (or says why it cannot be granted). */
export function parseScope(token: string): ScopeParse {
  const m = SCOPE_RE.exec(token);
  if (!m) return { ok: false, reason: `"${token}" is not a SMART system scope (system/<Type|*>.<read|rs>)` };
  const [, context = '', type = '', permission = '', query] = m;
  if (context !== 'system') return { ok: false, reason: `"${token}": only system/ scopes are supported` };
  if (query !== undefined) return { ok: false, reason: `"${token}": scopes with ?param=value restrictions are not supported` };
  if (type !== '*' && !(TYPE_RE.test(type) && isFhirResourceType(type))) {
    return { ok: false, reason: `"${token}": ${type} is not a FHIR R4 resource type` };
  }
  let perms: Set<ReadPermission>;
  let version: 1 | 2;
  if (permission === 'read' || permission === '*') {
    perms = new Set(['r', 's']);
    version = 1;
  } else if (permission === 'write') {
    return { ok: false, reason: `"${token}": only read access is granted` };
  } else if (permission.length > 0 && V2_PERMS_RE.test(permission)) {
    perms = new Set([...permission].filter((c): c is ReadPermission => c === 'r' || c === 's'));
    version = 2;
    if (perms.size === 0) return { ok: false, reason: `"${token}": only read access (r, s) is granted` };
  } else {
    return { ok: false, reason: `"${token}": unknown permission "${permission}" (use read, or an ordered subset of cruds)` };
  }
  return { ok: true, scope: { type, perms, version } };
}

/** Splits a space-separated scope string (RFC 6749 §3.3). */
export const splitScopes = (scope: string): string[] => scope.split(/[ ]+/).filter((s) => s.length > 0);

export function formatScope(s: ReadScope): string {
  const both = s.perms.has('r') && s.perms.has('s');
  if (s.version === 1 && both) return `system/${s.type}.read`;
  return `system/${s.type}.${s.perms.has('r') ? 'r' : ''}${s.perms.has('s') ? 's' : ''}`;
}

/**
 * Validates scopes to pre-authorize at registration: every one must be a read-only system scope exactly as
 * written (`system/*.rs`, `system/Observation.read`, `system/Patient.r`); returns the normalised string.
 */
export function validateRegistrationScope(scope: string): { ok: true; scope: string } | { ok: false; reason: string } {
  const tokens = splitScopes(scope);
  if (tokens.length === 0) return { ok: false, reason: 'at least one scope is required' };
  for (const t of tokens) {
    const p = parseScope(t);
    if (!p.ok) return p;
    if (formatScope(p.scope) !== t) {
      return { ok: false, reason: `"${t}": only read scopes can be pre-authorized (read, r, s or rs)` };
    }
  }
  return { ok: true, scope: [...new Set(tokens)].join(' ') };
}

/** Parses scopes already known to be valid (pre-authorized or granted); invalid entries are skipped. */
export function parseGrantedScopes(scope: string): ReadScope[] {
  const out: ReadScope[] = [];
  for (const t of splitScopes(scope)) {
    const p = parseScope(t);
    if (p.ok) out.push(p.scope);
  }
  return out;
}

function intersectOne(req: ReadScope, pre: ReadScope): ReadScope | undefined {
  const type = req.type === '*' ? pre.type : pre.type === '*' || pre.type === req.type ? req.type : undefined;
  if (type === undefined) return undefined;
  const perms = new Set([...req.perms].filter((p) => pre.perms.has(p)));
  return perms.size === 0 ? undefined : { type, perms, version: req.version };
}

/** Merges scopes of the same type and drops those a wildcard already covers; keeps first-seen order. */
function simplify(scopes: ReadScope[]): ReadScope[] {
  const byType = new Map<string, { type: string; perms: Set<ReadPermission>; version: 1 | 2 }>();
  for (const s of scopes) {
    const prev = byType.get(s.type);
    if (prev) for (const p of s.perms) prev.perms.add(p);
    else byType.set(s.type, { type: s.type, perms: new Set(s.perms), version: s.version });
  }
  const wildcard = byType.get('*');
  return [...byType.values()].filter((s) => s.type === '*' || !wildcard || ![...s.perms].every((p) => wildcard.perms.has(p)));
}

export type ScopeDecision = { ok: true; scope: string; scopes: ReadScope[] } | { ok: false; reason: string };

/**
 * Decides the scope to grant for a token request: every requested scope must parse (see the decisions above);
 * the grant is the intersection with the pre-authorized scopes, and must not be empty.
 */
export function grantScopes(requested: string, preAuthorized: string): ScopeDecision {
  const tokens = splitScopes(requested);
  if (tokens.length === 0) return { ok: false, reason: 'the scope parameter is empty' };
  const wanted: ReadScope[] = [];
  for (const t of tokens) {
    const p = parseScope(t);
    if (!p.ok) return p;
    wanted.push(p.scope);
  }
  const allowed = parseGrantedScopes(preAuthorized);
  const granted = simplify(wanted.flatMap((w) => allowed.flatMap((a) => intersectOne(w, a) ?? [])));
  if (granted.length === 0) {
    return { ok: false, reason: `none of the requested scopes is authorized for this client (authorized: ${preAuthorized})` };
  }
  return { ok: true, scope: granted.map(formatScope).join(' '), scopes: granted };
}

/** Whether granted scopes allow reading resources of a type (`r` or `s` on the type or on `*`). */
export function scopesAllowRead(scopes: readonly ReadScope[], type: string): boolean {
  return scopes.some((s) => (s.type === '*' || s.type === type) && s.perms.size > 0);
}
