/**
 * The bulk data client library: a `BulkExportClient` that runs a FHIR Bulk Data export against any conformant
 * server and emits typed events. Depends on nothing of the flatfhir server.
 */
export { BulkExportClient, type BulkExportClientOptions, type DeletePolicy, ExportError, type RunOptions } from './client.js';
export { CLIENT_ASSERTION_TYPE, loadSigningKey, signClientAssertion, type SigningKey, TokenProvider, type TokenSource } from './auth.js';
export { discoverTokenUrl, tokenUrlFromCapabilityStatement } from './discovery.js';
export { ExportEmitter, type ExportEventName, type ExportEvents, type Phase } from './events.js';
export { AbortError, backoffDelay, DEFAULT_RETRY, HttpError, parseRetryAfter, type RetryPolicy } from './http.js';
export { buildKickoff, kickoffParameters, operationUrl } from './kickoff.js';
export { planFiles, summarize } from './plan.js';
export { type PollOptions, readManifest } from './poll.js';
export { checkNdjson } from './validate.js';
export type * from './types.js';
export { formatBytes, formatSummary } from './reporters/format.js';
export { jsonReporter } from './reporters/json.js';
export { logReporter } from './reporters/log.js';
export { terminalReporter, type TerminalReporter } from './reporters/terminal.js';
