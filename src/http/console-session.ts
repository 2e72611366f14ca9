/**
 * Console sessions: the admin credential exchanged for a cookie, and the check that lets an admin API request in
 * with either the bearer admin token or a console session.
 *
 * The cookie holds a random secret; the store keeps only its SHA-256, so the sessions table never holds a usable
 * cookie. The cookie is HttpOnly, SameSite=Strict, Secure when the public origin is HTTPS, and expires with the
 * session. Every unsafe request (anything but GET, HEAD, OPTIONS) of a session must also carry the session's CSRF
 * token in the `X-CSRF-Token` header, checked here; a page of another origin can neither send the cookie
 * (SameSite) nor read the token.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../fhir/errors.js';
import type { ConsoleSession, SessionStore } from '../store/ports.js';

export const SESSION_COOKIE = 'flatfhir_console';
export const CSRF_HEADER = 'x-csrf-token';
/** How long a console session lasts from login (8 hours). */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

const sha256 = (s: string): Buffer => createHash('sha256').update(s).digest();
const sameSecret = (a: string, b: string): boolean => timingSafeEqual(sha256(a), sha256(b));

/** The value of one cookie in a Cookie header, or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

export interface SessionDeps {
  sessions: SessionStore;
  adminToken: string;
  now: () => number;
  /** Whether the public origin is HTTPS (the cookie is then Secure). */
  secure: () => boolean;
}

function cookie(deps: SessionDeps, value: string, maxAgeSeconds: number): string {
  return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${deps.secure() ? '; Secure' : ''}`;
}

/** Logs in with the admin credential: stores a new session and sets its cookie. Wrong credential → 401. */
export async function login(deps: SessionDeps, token: unknown, reply: FastifyReply): Promise<{ csrfToken: string; expiresAt: string }> {
  if (typeof token !== 'string' || !sameSecret(token, deps.adminToken)) throw unauthorized('Invalid admin credential.');
  const now = deps.now();
  await deps.sessions.deleteExpiredSessions(now);
  const secret = randomBytes(32).toString('base64url');
  const session: ConsoleSession = {
    id: sha256(secret).toString('hex'),
    csrfToken: randomBytes(32).toString('base64url'),
    createdAt: now,
    expiresAt: now + SESSION_TTL_MS,
  };
  await deps.sessions.createSession(session);
  reply.header('set-cookie', cookie(deps, secret, Math.floor(SESSION_TTL_MS / 1000)));
  return { csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() };
}

/** The unexpired session of the request's cookie, or undefined. */
export async function requestSession(deps: SessionDeps, request: FastifyRequest): Promise<ConsoleSession | undefined> {
  const secret = readCookie(request.headers.cookie, SESSION_COOKIE);
  if (!secret || !/^[A-Za-z0-9_-]{43}$/.test(secret)) return undefined;
  return deps.sessions.getSession(sha256(secret).toString('hex'), deps.now());
}

/** Logs out: removes the request's session (if any) and clears its cookie. */
export async function logout(deps: SessionDeps, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const session = await requestSession(deps, request);
  if (session) {
    checkCsrf(session, request);
    await deps.sessions.deleteSession(session.id);
  }
  reply.header('set-cookie', cookie(deps, '', 0));
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function checkCsrf(session: ConsoleSession, request: FastifyRequest): void {
  if (SAFE_METHODS.has(request.method)) return;
  const sent = request.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || !sameSecret(sent, session.csrfToken)) {
    throw forbidden(`A console request that changes something must carry the session's ${CSRF_HEADER} header.`);
  }
}

/**
 * The console session as an admin credential (admin-auth.ts): false without a session cookie of an unexpired
 * session; true for a session request that is safe or carries the session's CSRF token; 403 for an unsafe one that
 * does not.
 */
export function sessionCredential(deps: SessionDeps): (request: FastifyRequest) => Promise<boolean> {
  return async (request) => {
    const session = await requestSession(deps, request);
    if (!session) return false;
    checkCsrf(session, request);
    return true;
  };
}

type SessionContext = { store: { sessions: SessionStore }; now?: () => number; origin: () => string };

/** The session dependencies of an app whose admin credential is set. */
export function sessionDeps(ctx: SessionContext, adminToken: string): SessionDeps {
  return { sessions: ctx.store.sessions, adminToken, now: ctx.now ?? Date.now, secure: () => ctx.origin().startsWith('https:') };
}

/** The console session credential of an app (none when no admin credential is configured). */
export function consoleSessionCredential(ctx: SessionContext & { config: { auth: { adminToken?: string | undefined } } }): ((request: FastifyRequest) => Promise<boolean>) | undefined {
  const token = ctx.config.auth.adminToken;
  return token ? sessionCredential(sessionDeps(ctx, token)) : undefined;
}
