/** Prometheus metrics (`/metrics`): requests, check-ins, verification failures by code. */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FastifyInstance } from 'fastify';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'reflash_http_requests_total', help: 'HTTP requests by route, method and status', labelNames: ['method', 'route', 'status'] as const, registers: [this.registry] });
  readonly duration = new Histogram({ name: 'reflash_http_request_duration_seconds', help: 'HTTP request duration', labelNames: ['route'] as const, buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: [this.registry] });
  readonly checkins = new Counter({ name: 'reflash_checkins_total', help: 'vehicle manifests accepted, by path: steady (two statements, PostgreSQL) or locked', labelNames: ['path'] as const, registers: [this.registry] });
  readonly verificationFailures = new Counter({ name: 'reflash_verification_failures_total', help: 'refused metadata, manifests and request signatures by error code', labelNames: ['code'] as const, registers: [this.registry] });
  /** accountability log integrity alerts (the log refuses to sign), by alert code: src/audit/README.md */
  readonly logAlerts = new Counter({ name: 'reflash_log_alerts_total', help: 'accountability log integrity alerts by code (the log stops signing checkpoints)', labelNames: ['code'] as const, registers: [this.registry] });
  readonly logSize = new Gauge({ name: 'reflash_log_tree_size', help: 'size of the latest signed accountability log checkpoint', registers: [this.registry] });

  constructor(defaults = true) {
    if (defaults) collectDefaultMetrics({ register: this.registry });
  }
}

export function metricsPlugin(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    done();
  });
  app.get('/metrics', { config: { auth: 'public' } }, async (_req, reply) => {
    reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });
}
