/**
 * Start a server process: open storage, initialise, build the app, listen; stop gracefully on
 * SIGTERM/SIGINT (readiness goes 503, in-flight requests finish, the database closes).
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { buildApp } from './app.js';
import type { App } from './app.js';
import { FsBlobStore } from './blob/store.js';
import { databaseUrl } from './config.js';
import type { Config } from './config.js';
import type { ServerContext } from './context.js';
import { openDb } from './db/connect.js';
import type { Lifecycle } from './plugins/health.js';
import { Metrics } from './plugins/metrics.js';
import { pruneNonces } from './plugins/auth.js';
import { initialise } from './services/init.js';
import { AuditLog } from './audit/service.js';
import { OnlineKeyStore, loadMasterKey } from './services/keys.js';
import { startCampaignJob } from './campaigns/job.js';

export interface RunningServer {
  readonly app: App;
  readonly ctx: ServerContext;
  /** e.g. http://127.0.0.1:8080 */
  readonly url: string;
  close(): Promise<void>;
}

export interface StartOptions {
  readonly env?: Record<string, string | undefined>;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** install SIGTERM/SIGINT handlers (the CLI does; tests do not) */
  readonly handleSignals?: boolean;
}

export async function createContext(config: Config, opts: StartOptions = {}): Promise<ServerContext> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  mkdirSync(config.blobDir, { recursive: true });
  const log = opts.logger ?? pino({ level: config.logLevel, redact: ['req.headers.authorization', 'req.headers.signature'] });
  const db = await openDb({ url: databaseUrl(config), poolSize: config.poolSize, sqliteSynchronous: config.sqliteSynchronous, onPoolError: (err) => log.warn({ err }, 'idle database connection lost') });
  const masterKey = loadMasterKey(config.dataDir, opts.env ?? {});
  const keys = new OnlineKeyStore(db, masterKey);
  const now = opts.now ?? Date.now;
  const metrics = new Metrics();
  let audit: AuditLog;
  try {
    audit = await AuditLog.open({ db, masterKey, origin: config.logOrigin, now, log, metrics, integrateIntervalMs: config.logIntegrateIntervalMs });
  } catch (err) {
    await db.close();
    throw err;
  }
  const blobs = new FsBlobStore(config.blobDir);
  const removed = await blobs.removePartialUploads();
  if (removed > 0) log.info({ removed }, 'removed partial uploads left by an earlier process');
  return { config, db, blobs, keys, now, metrics, log, audit };
}

export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const ctx = await createContext(config, opts);
  const init = await initialise(ctx);
  if (init.adminTokenFile !== undefined) ctx.log.info({ file: init.adminTokenFile }, 'created the first admin API token (read it from this file)');
  const life: Lifecycle = { shuttingDown: false };
  const https = config.tlsCert === '' ? undefined : { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) };
  const app = await buildApp(ctx, life, https);
  const address = await app.listen({ host: config.host, port: config.port });
  ctx.audit.start();
  const prune = setInterval(() => {
    pruneNonces(ctx).catch((err: unknown) => ctx.log.warn({ err }, 'nonce pruning failed'));
  }, 60_000);
  prune.unref();
  const stopCampaigns = startCampaignJob(ctx);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      life.shuttingDown = true;
      clearInterval(prune);
      stopCampaigns();
      await app.close();
      await ctx.audit.close();
      await ctx.db.close();
    })();
    return closing;
  };
  if (opts.handleSignals === true) {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) {
      process.once(sig, () => {
        ctx.log.info({ signal: sig }, 'shutting down');
        close().then(() => process.exit(0), (err: unknown) => {
          ctx.log.error({ err }, 'shutdown failed');
          process.exit(1);
        });
      });
    }
  }
  ctx.log.info({ address, database: ctx.db.dialect, dataDir: config.dataDir }, 'reflash server listening');
  return { app, ctx, url: address, close };
}
