import { type Command, Option } from 'commander';
import type { Config } from '../config/index.js';
import { type AdminAnswer, callAdminApi } from '../manage/remote.js';

/**
 * The management commands against a running server instead of the store: `--server URL` (its origin) and the admin
 * credential (`--admin-token`, else FLATFHIR_ADMIN_TOKEN). The admin API answers the same JSON the commands print.
 */
export interface RemoteOptions {
  server?: string;
  adminToken?: string;
}

export function remoteOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--server <url>', 'work against a running server (its admin API) instead of the store'))
    .addOption(new Option('--admin-token <token>', 'the admin credential for --server (default FLATFHIR_ADMIN_TOKEN)'));
}

export type AdminCall = (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => Promise<unknown>;

/** A caller of the admin API of `--server`, or undefined when the command works on the store. */
export function adminCaller(options: RemoteOptions, config: Pick<Config, 'auth'>): AdminCall | undefined {
  if (options.server === undefined) return undefined;
  let origin: string;
  try {
    origin = new URL(options.server).origin;
  } catch {
    throw new Error(`--server ${options.server} is not a URL (e.g. https://flatfhir.example).`);
  }
  const token = options.adminToken ?? config.auth.adminToken;
  if (!token) throw new Error('--server needs the admin credential: --admin-token TOKEN or FLATFHIR_ADMIN_TOKEN.');
  return async (method, path, body) => {
    let answer: AdminAnswer;
    try {
      answer = await callAdminApi({ origin, token }, method, path, body);
    } catch (e) {
      throw new Error(`${origin} cannot be reached: ${(e as Error).message}`);
    }
    if (!answer.ok) {
      const issue = (answer.json as { issue?: { diagnostics?: string }[] } | undefined)?.issue?.[0]?.diagnostics;
      throw new Error(`${origin} answered ${answer.status}${issue ? `: ${issue}` : ''}`);
    }
    return answer.json;
  };
}
