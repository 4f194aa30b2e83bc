/** What every feature plugin gets: configuration, storage, keys, clock, metrics. */
import type { Logger } from 'pino';
import type { AuditLog } from './audit/service.js';
import type { BlobStore } from './blob/store.js';
import type { Config } from './config.js';
import type { Db } from './db/connect.js';
import type { Metrics } from './plugins/metrics.js';
import type { OnlineKeyStore } from './services/keys.js';

export interface ServerContext {
  readonly config: Config;
  readonly db: Db;
  readonly blobs: BlobStore;
  readonly keys: OnlineKeyStore;
  /** milliseconds since the epoch; injected so tests can fix time */
  readonly now: () => number;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** the accountability log: `append(auditEvents.xxx({...}))`, `receipt(index)` (src/audit/README.md) */
  readonly audit: AuditLog;
}
