import { Command, Option } from 'commander';
import { CLIENT_ASSERTION_TYPE, loadSigningKey, signClientAssertion } from '../client/auth.js';
import { discoverTokenUrl } from '../client/discovery.js';
import { ExportEmitter } from '../client/events.js';
import { DEFAULT_RETRY, errorMessage, isNetworkError } from '../client/http.js';
import { credentialsFrom, PRIVATE_KEY_HELP } from './credentials.js';

const DEFAULT_SCOPE = 'system/*.rs';

/**
 * `flatfhir token --client-file F`: signs a client assertion and prints the access token it is exchanged for. The
 * token URL comes from the client file, `--token-url`, or the server's `.well-known/smart-configuration`.
 */
export function tokenCommand(): Command {
  return new Command('token')
    .description('Print an access token (valid 5 minutes on flatfhir) for a SMART Backend Services client')
    .addOption(new Option('--client-file <file>', 'a client file: fhirBaseUrl, tokenUrl, clientId, scope, privateJwk (e.g. data/sandbox-client.json)'))
    .addOption(new Option('--client-id <id>', 'the registered client_id (with --private-key)'))
    .addOption(new Option('--private-key <file>', PRIVATE_KEY_HELP))
    .addOption(new Option('--fhir-url <url>', "the FHIR base URL, to discover the token endpoint (default: the client file's fhirBaseUrl)"))
    .addOption(new Option('--token-url <url>', "the token endpoint (default: the client file's tokenUrl, else discovered from the FHIR base URL)"))
    .addOption(new Option('--scope <scope>', `scopes to ask for (default: the client file's scope, else ${DEFAULT_SCOPE})`))
    .addOption(new Option('--json', 'print the whole token response'))
    .addHelpText(
      'after',
      '\nExamples:\n  TOKEN=$(npx flatfhir token --client-file data/sandbox-client.json)\n' +
        '  npx flatfhir token --client-id ID --private-key key.pem --fhir-url http://127.0.0.1:8080/r4/my-tenant',
    )
    .action(async (opts: { clientFile?: string; clientId?: string; privateKey?: string; fhirUrl?: string; tokenUrl?: string; scope?: string; json?: boolean }) => {
      const client = await credentialsFrom(opts, DEFAULT_SCOPE);
      let tokenUrl = client.tokenUrl;
      if (tokenUrl === undefined) {
        if (client.fhirBaseUrl === undefined) throw new Error('Give --token-url or --fhir-url (or a client file with fhirBaseUrl) to find the token endpoint.');
        const ctx = {
          fetch: globalThis.fetch,
          events: new ExportEmitter(),
          retry: DEFAULT_RETRY,
          now: Date.now,
          random: Math.random,
          signal: undefined,
          userAgent: 'flatfhir-token',
        };
        tokenUrl = (await discoverTokenUrl(ctx, client.fhirBaseUrl)).tokenUrl;
      }
      const signing = await loadSigningKey(client.privateKey);
      const assertion = await signClientAssertion(signing, client.clientId, tokenUrl, Date.now());
      let response: Response;
      try {
        response = await fetch(tokenUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams({
            grant_type: 'client_credentials',
            scope: client.scope,
            client_assertion_type: CLIENT_ASSERTION_TYPE,
            client_assertion: assertion,
          }),
        });
      } catch (e) {
        if (isNetworkError(e)) throw new Error(`Cannot reach the token endpoint ${tokenUrl}: ${errorMessage(e)}. Is the server running?`);
        throw e;
      }
      const body = (await response.json().catch(() => ({}))) as { access_token?: string; error?: string; error_description?: string };
      if (!response.ok || !body.access_token) {
        throw new Error(`The token endpoint answered ${response.status}: ${body.error ?? ''} ${body.error_description ?? ''}`.trim());
      }
      process.stdout.write(opts.json ? `${JSON.stringify(body)}\n` : `${body.access_token}\n`);
    });
}
