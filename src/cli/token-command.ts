import { Command } from 'commander';
import { CLIENT_ASSERTION_TYPE, loadSigningKey, signClientAssertion } from '../client/auth.js';
import { readClientFile } from './export-command.js';

/** `flatfhir token --client-file F`: signs a client assertion and prints the access token it is exchanged for. */
export function tokenCommand(): Command {
  return new Command('token')
    .description('Print an access token for a SMART Backend Services client file (e.g. data/sandbox-client.json)')
    .requiredOption('--client-file <file>', 'JSON with clientId, tokenUrl, scope and privateJwk')
    .option('--scope <scope>', 'scopes to ask for (default: the client file\'s scope)')
    .option('--json', 'print the whole token response')
    .action(async (opts: { clientFile: string; scope?: string; json?: boolean }) => {
      const client = await readClientFile(opts.clientFile);
      if (!client.tokenUrl) throw new Error(`${opts.clientFile} has no tokenUrl.`);
      const signing = await loadSigningKey(client.privateJwk);
      const assertion = await signClientAssertion(signing, client.clientId, client.tokenUrl, Date.now());
      const response = await fetch(client.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: opts.scope ?? client.scope ?? 'system/*.rs',
          client_assertion_type: CLIENT_ASSERTION_TYPE,
          client_assertion: assertion,
        }),
      });
      const body = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
      if (!response.ok || !body.access_token) {
        throw new Error(`The token endpoint answered ${response.status}: ${body.error ?? ''} ${body.error_description ?? ''}`.trim());
      }
      process.stdout.write(opts.json ? `${JSON.stringify(body)}\n` : `${body.access_token}\n`);
    });
}
