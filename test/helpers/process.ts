/**
 * `flatfhir` as a process of its own, run from the sources (tsx), for tests whose behaviour is about processes:
 * first starts, kills, restarts, what a command prints.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');

export interface ServeProcess {
  child: ChildProcess;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the origin once the server says where it listens. */
  listening: Promise<string>;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
}

/** Runs `flatfhir ARGS…` from the sources with extra environment variables. */
export function runFlatfhir(args: string[], env: Record<string, string> = {}): ServeProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const listening = new Promise<string>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (http:\/\/[^\s"]+)/.exec(out);
      if (m) resolve(m[1] as string);
    });
    child.stderr?.on('data', (d: Buffer) => {
      err += d.toString();
    });
    void exited.then((code) => reject(new Error(`flatfhir exited with ${code} before listening:\n${out}\n${err}`)));
  });
  listening.catch(() => undefined);
  return { child, stdout: () => out, stderr: () => err, listening, exited };
}

/** Stops a process (SIGTERM) and waits for it to exit. */
export async function stop(p: ServeProcess): Promise<number | string> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
  return p.exited;
}

/**
 * Runs a Node entry of the repository (`args`: node arguments, the entry first or after loader flags) to its end and
 * returns the last line it printed, parsed as JSON; a child that fails rejects with what it wrote to stderr.
 */
export async function lastJsonLine<T>(args: string[]): Promise<T> {
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`${args.join(' ')} exited with ${code}: ${err}`);
  return JSON.parse(out.trim().split('\n').pop() as string) as T;
}
