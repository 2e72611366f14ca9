/**
 * flatfhir processes for tests about processes: `serve` and `worker` started as real child processes from the
 * sources, killed with real signals.
 */
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';

export interface FlatfhirProcess {
  child: ChildProcess;
  /** The API origin (serve), or the monitoring listener's origin (worker). */
  origin: string;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Sends a signal and resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const ROOT = join(import.meta.dirname, '..', '..');
const running = new Set<ChildProcess>();

/** Starts `flatfhir <args>`; resolves once it says it is listening (serve) or running (worker). */
export function startFlatfhir(
  args: string[],
  env: Record<string, string> = {},
  options: { wrap?: string[]; spawn?: Pick<SpawnOptions, 'uid' | 'gid'> } = {},
): Promise<FlatfhirProcess> {
  const command = [...(options.wrap ?? []), process.execPath, '--import', 'tsx', 'src/cli/main.ts', ...args];
  const child = spawn(command[0] as string, command.slice(1), {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...options.spawn,
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let out = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return new Promise((resolve, reject) => {
    const ready = (origin: string): void =>
      resolve({
        child,
        origin,
        output: () => out,
        async kill(signal = 'SIGKILL') {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    const onData = (d: Buffer): void => {
      out += d.toString();
      const listening = /listening on (https?:\/\/[^\s"]+)/.exec(out);
      if (listening) ready(listening[1] as string);
      else if (out.includes('flatfhir worker running')) ready(/monitoring on (http:\/\/[^\s)]+)/.exec(out)?.[1] ?? '');
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code, signal) => reject(new Error(`flatfhir ${args[0]} exited early (${code ?? signal}): ${out}`)));
  });
}

/** Kills every process these helpers started that is still running (afterAll). */
export async function killAll(): Promise<void> {
  const list = [...running];
  await Promise.all(
    list.map(
      (c) =>
        new Promise<void>((resolve) => {
          c.once('exit', () => resolve());
          c.kill('SIGKILL');
        }),
    ),
  );
}
