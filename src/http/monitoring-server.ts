/**
 * A small HTTP listener of its own for `/livez`, `/readyz` and `/metrics`: for worker processes (their only HTTP
 * port) and for API processes whose metrics are bound to a separate, private address.
 */
import Fastify, { type FastifyBaseLogger, LogController } from 'fastify';
import type { Logger } from 'pino';
import { handleError, notFoundOutcome } from './errors.js';
import { type MonitoringDeps, monitoringRoutes } from './routes/monitoring.js';

export interface MonitoringServer {
  /** The port it listens on (the configured one, or the one chosen for port 0). */
  port: number;
  close(): Promise<void>;
}

export async function startMonitoringServer(options: MonitoringDeps & { host: string; port: number; log: Logger }): Promise<MonitoringServer> {
  const app = Fastify({ loggerInstance: options.log as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  app.setErrorHandler(handleError);
  app.setNotFoundHandler(notFoundOutcome);
  await app.register(monitoringRoutes(options));
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  return { port: typeof address === 'object' && address ? address.port : options.port, close: () => app.close() };
}
