import type Database from 'better-sqlite3';
import type { ConsoleSession, SessionStore } from '../ports.js';
import { writeTransaction } from './write-transaction.js';

interface SessionRow {
  id: string;
  csrf_token: string;
  created_at: number;
  expires_at: number;
}

const toSession = (r: SessionRow): ConsoleSession => ({ id: r.id, csrfToken: r.csrf_token, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at) });

export class SqliteSessionStore implements SessionStore {
  constructor(private readonly db: Database.Database) {}

  async createSession(s: ConsoleSession): Promise<void> {
    const insert = this.db.prepare('INSERT INTO console_sessions (id, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?)');
    await writeTransaction(this.db, () => insert.run(s.id, s.csrfToken, s.createdAt, s.expiresAt));
  }

  async getSession(id: string, now: number): Promise<ConsoleSession | undefined> {
    const row = this.db.prepare('SELECT * FROM console_sessions WHERE id = ? AND expires_at > ?').get(id, now) as SessionRow | undefined;
    return row ? toSession(row) : undefined;
  }

  async deleteSession(id: string): Promise<boolean> {
    const remove = this.db.prepare('DELETE FROM console_sessions WHERE id = ?');
    return writeTransaction(this.db, () => remove.run(id).changes > 0);
  }

  async deleteExpiredSessions(now: number): Promise<number> {
    const remove = this.db.prepare('DELETE FROM console_sessions WHERE expires_at <= ?');
    return writeTransaction(this.db, () => remove.run(now).changes);
  }
}
