/**
 * The embedded store's keys: files under the data directory's `keys/` folder (0700), each 0600 —
 * `signing-keys.json` (the access-token signing key set) and `<name>.key` (named secrets, base64). Several
 * processes sharing a data directory share the files: creation is atomic (the first writer wins), a rotation
 * replaces the key set file by rename, and the file's identity is its version.
 */
import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyStore, StoredSigningKey } from '../ports.js';

export const SIGNING_KEYS_FILE = 'signing-keys.json';
const SECRET_NAME = /^[a-z0-9-]{1,64}$/;

interface KeySetFile {
  keys: StoredSigningKey[];
}

function parseKeySet(text: string, file: string): StoredSigningKey[] {
  const parsed = JSON.parse(text) as Partial<KeySetFile>;
  if (!parsed || !Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error(`${file} holds no signing keys`);
  for (const k of parsed.keys) {
    if (typeof k?.kid !== 'string' || typeof k.privateJwk !== 'object' || typeof k.createdAt !== 'number') {
      throw new Error(`${file} holds a malformed signing key`);
    }
  }
  return [...parsed.keys].sort((a, b) => a.createdAt - b.createdAt || (a.kid < b.kid ? -1 : a.kid > b.kid ? 1 : 0));
}

const isMissing = (e: unknown): boolean => (e as NodeJS.ErrnoException).code === 'ENOENT';

export class FileKeyStore implements KeyStore {
  constructor(private readonly dir: string) {}

  private async tmp(file: string, content: string): Promise<string> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await chmod(this.dir, 0o700).catch(() => undefined);
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(tmp, content, { mode: 0o600, flag: 'wx' });
    return tmp;
  }

  /** Writes `content` to `file` unless it exists (then the existing one is kept); atomic across processes. */
  private async createOnce(file: string, content: string): Promise<void> {
    const tmp = await this.tmp(file, content);
    try {
      await link(tmp, file); // EEXIST when another process won the race: theirs is kept
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async signingKeys(first: () => Promise<StoredSigningKey>): Promise<StoredSigningKey[]> {
    const file = join(this.dir, SIGNING_KEYS_FILE);
    try {
      return parseKeySet(await readFile(file, 'utf8'), file);
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    await this.createOnce(file, `${JSON.stringify({ keys: [await first()] }, null, 2)}\n`);
    return parseKeySet(await readFile(file, 'utf8'), file);
  }

  async signingKeysVersion(): Promise<string> {
    try {
      const s = await stat(join(this.dir, SIGNING_KEYS_FILE));
      return `${s.mtimeMs}:${s.size}:${s.ino}`;
    } catch (e) {
      if (isMissing(e)) return '';
      throw e;
    }
  }

  async replaceSigningKeys(add: StoredSigningKey, retire: string[]): Promise<void> {
    const file = join(this.dir, SIGNING_KEYS_FILE);
    let keys: StoredSigningKey[] = [];
    try {
      keys = parseKeySet(await readFile(file, 'utf8'), file);
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    const next = [...keys.filter((k) => !retire.includes(k.kid) && k.kid !== add.kid), add];
    await rename(await this.tmp(file, `${JSON.stringify({ keys: next }, null, 2)}\n`), file);
  }

  async secret(name: string, create: () => Buffer): Promise<Buffer> {
    if (!SECRET_NAME.test(name)) throw new Error(`Invalid secret name ${name}`);
    const file = join(this.dir, `${name}.key`);
    try {
      return Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
    } catch (e) {
      if (!isMissing(e)) throw e;
    }
    await this.createOnce(file, create().toString('base64'));
    return Buffer.from((await readFile(file, 'utf8')).trim(), 'base64');
  }
}
