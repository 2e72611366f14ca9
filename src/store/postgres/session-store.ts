import type { Pool } from 'pg';
import type { ConsoleSession, SessionStore } from '../ports.js';
import { query } from './db.js';

interface SessionRow {
  id: string;
  csrf_token: string;
  created_at: string | number;
  expires_at: string | number;
}

const toSession = (r: SessionRow): ConsoleSession => ({ id: r.id, csrfToken: r.csrf_token, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) });

export class PostgresSessionStore implements SessionStore {
  constructor(private readonly pool: Pool) {}

  async createSession(s: ConsoleSession): Promise<void> {
    await query(this.pool, {
      text: 'INSERT INTO console_sessions (id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4)',
      values: [s.id, s.csrfToken, s.createdAt, s.expiresAt],
    });
  }

  async getSession(id: string, now: number): Promise<ConsoleSession | undefined> {
    const [row] = await query<SessionRow>(this.pool, { text: 'SELECT * FROM console_sessions WHERE id = $1 AND expires_at > $2', values: [id, now] });
    return row ? toSession(row) : undefined;
  }

  async deleteSession(id: string): Promise<boolean> {
    return ((await this.pool.query('DELETE FROM console_sessions WHERE id = $1', [id])).rowCount ?? 0) > 0;
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    return (await this.pool.query('DELETE FROM console_sessions WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }
}
