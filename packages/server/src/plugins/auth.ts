/**
 * Authentication and authorisation, declared on every route (`config.auth`) and enforced here:
 * - 'public': anyone (health, metrics, OpenAPI, Image-repository metadata: it is signed).
 * - roles: operators with an API token (`Authorization: Bearer rft_...`), stored only as its
 *   SHA-256; 'admin' may do everything, the others only what the route lists.
 * - 'vehicle': requests signed with the Primary ECU's registered key (RFC 9421 HTTP Message
 *   Signatures + RFC 9530 Content-Digest, see @reflash/metadata httpsig). The signature must be
 *   fresh (created within requestSkewMs) and its nonce unused: state-changing requests record
 *   the nonce in the database (replay across server processes is refused), reads in memory.
 * - 'vehicle-or-operator': either (image downloads: firmware is not public).
 * A route without `config.auth` makes the server refuse to start.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { RequestSignatureError } from '@reflash/metadata';
import { Key, contentDigest, parseSignatureHeaders, verifyRequestSignatureAsync } from '@reflash/metadata';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../db/schema.js';
import type { ServerContext } from '../context.js';
import { ApiError } from '../errors.js';
import { prepared } from '../db/prepared.js';

export const ROLES = ['admin', 'release-manager', 'operator', 'auditor'] as const;
export type Role = (typeof ROLES)[number];
export type AuthSpec = 'public' | 'vehicle' | 'vehicle-or-operator' | readonly Role[];

export interface Operator {
  readonly tokenId: string;
  readonly name: string;
  readonly role: Role;
}

export interface AuthenticatedVehicle {
  readonly vin: string;
  readonly keyId: string;
  /**
   * For state-changing requests: the nonce to record, in the same database transaction as the
   * request's effect (`recordVehicleNonce`), so a replay is refused across server processes
   * without a second commit. Recorded after the handler if the route did not.
   */
  nonce?: { readonly nonce: string; readonly expiresAt: number; recorded: boolean };
}

/** A route and who may call it, as declared (for the table-driven authorisation test and docs). */
export interface RouteAuth {
  readonly method: string;
  readonly url: string;
  readonly auth: AuthSpec;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthSpec;
  }
  interface FastifyInstance {
    /** every route with its declared auth (filled as routes are registered) */
    authRoutes: RouteAuth[];
  }
  interface FastifyRequest {
    operator?: Operator;
    vehicle?: AuthenticatedVehicle;
    rawBody?: Buffer;
  }
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new token: `rft_` + 32 random bytes (base64url). Only its hash is stored. */
export function newToken(): string {
  return `rft_${randomBytes(32).toString('base64url')}`;
}

export async function createToken(ctx: ServerContext, name: string, role: Role): Promise<{ id: string; token: string }> {
  const token = newToken();
  const id = randomBytes(8).toString('hex');
  await ctx.db.kysely.insertInto('api_tokens').values({ id, name, role, token_hash: hashToken(token), created_at: ctx.now(), revoked_at: null }).execute();
  return { id, token };
}

/** In-memory nonce memory for read requests, bounded. */
class NonceCache {
  readonly #seen = new Map<string, number>();
  constructor(readonly max = 100_000) {}
  /** false if seen and not expired */
  add(key: string, expiresAt: number, now: number): boolean {
    const e = this.#seen.get(key);
    if (e !== undefined && e > now) return false;
    if (this.#seen.size >= this.max) {
      for (const [k, exp] of this.#seen) {
        if (exp <= now || this.#seen.size >= this.max) this.#seen.delete(k);
        if (this.#seen.size < this.max * 0.9) break;
      }
    }
    this.#seen.set(key, expiresAt);
    return true;
  }
}

export function authPlugin(app: FastifyInstance, ctx: ServerContext): void {
  const reads = new NonceCache();
  const keyCache = new Map<string, { vin: string; key: Key }>();

  const table: RouteAuth[] = [];
  app.decorate('authRoutes', table);
  app.addHook('onRoute', (route) => {
    const spec = route.config?.auth;
    if (spec === undefined) throw new Error(`route ${route.method.toString()} ${route.url} declares no auth`);
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) table.push({ method: m, url: route.url, auth: spec });
  });

  async function operator(req: FastifyRequest): Promise<Operator | undefined> {
    const h = req.headers.authorization;
    if (h === undefined) return undefined;
    const m = /^Bearer (rft_[A-Za-z0-9_-]{20,100})$/.exec(h);
    if (m === null) throw new ApiError('BAD_TOKEN', 'Authorization must be "Bearer rft_..."');
    const row = await ctx.db.kysely.selectFrom('api_tokens').select(['id', 'name', 'role', 'revoked_at'])
      .where('token_hash', '=', hashToken(m[1]!)).executeTakeFirst();
    if (row === undefined || row.revoked_at !== null) throw new ApiError('BAD_TOKEN');
    return { tokenId: row.id, name: row.name, role: row.role as Role };
  }

  async function vehicleKey(keyId: string): Promise<{ vin: string; key: Key } | undefined> {
    const hit = keyCache.get(keyId);
    if (hit !== undefined) return hit;
    const row = await ctx.db.kysely.selectFrom('ecus').innerJoin('vehicles', 'vehicles.vin', 'ecus.vin')
      .select(['ecus.vin', 'ecus.public_key']).where('ecus.key_id', '=', keyId)
      .whereRef('vehicles.primary_ecu_serial', '=', 'ecus.serial').executeTakeFirst();
    if (row === undefined) return undefined;
    const entry = { vin: row.vin, key: Key.fromJSON(JSON.parse(row.public_key)) };
    if (keyCache.size > 50_000) keyCache.clear();
    keyCache.set(keyId, entry);
    return entry;
  }

  async function vehicle(req: FastifyRequest): Promise<AuthenticatedVehicle> {
    let parsed;
    try {
      parsed = parseSignatureHeaders(header(req, 'signature-input'), header(req, 'signature'));
    } catch (err) {
      ctx.metrics.verificationFailures.inc({ code: 'BAD_REQUEST_SIGNATURE' });
      throw new ApiError('BAD_REQUEST_SIGNATURE', (err as RequestSignatureError).message);
    }
    const { params, signature } = parsed;
    const now = ctx.now();
    if (Math.abs(now - params.created * 1000) > ctx.config.requestSkewMs) {
      ctx.metrics.verificationFailures.inc({ code: 'STALE_REQUEST' });
      throw new ApiError('STALE_REQUEST');
    }
    const body = req.rawBody;
    const digest = header(req, 'content-digest');
    if (body !== undefined && body.length > 0) {
      // RFC 9530: the digest must be of this body, and the signature must cover it.
      if (digest !== contentDigest(body)) throw new ApiError('BAD_REQUEST_SIGNATURE', 'Content-Digest does not match the body');
    }
    const entry = await vehicleKey(params.keyid);
    const url = req.url;
    const q = url.indexOf('?');
    const parts = { method: req.method, path: q === -1 ? url : url.slice(0, q), query: q === -1 ? '?' : url.slice(q), contentDigest: body !== undefined && body.length > 0 ? digest : undefined };
    // The signature is verified in libuv's thread pool (the event loop goes on meanwhile).
    if (entry === undefined || !(await verifyRequestSignatureAsync(parts, params, signature, entry.key))) {
      ctx.metrics.verificationFailures.inc({ code: 'BAD_REQUEST_SIGNATURE' });
      throw new ApiError('BAD_REQUEST_SIGNATURE');
    }
    const expiresAt = params.created * 1000 + ctx.config.requestSkewMs;
    // Every nonce is remembered in memory (this process); state-changing requests also record it
    // in the database, in their own transaction (see recordVehicleNonce).
    if (!reads.add(`${params.keyid}:${params.nonce}`, expiresAt, now)) {
      ctx.metrics.verificationFailures.inc({ code: 'REPLAYED_REQUEST' });
      throw new ApiError('REPLAYED_REQUEST');
    }
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    return { vin: entry.vin, keyId: params.keyid, ...(readOnly ? {} : { nonce: { nonce: params.nonce, expiresAt, recorded: false } }) };
  }

  // Vehicle signatures cover the body, so they are checked once it has been read (preHandler);
  // operator tokens are checked before anything else (onRequest).
  app.addHook('onRequest', async (req) => {
    const spec = req.routeOptions.config.auth;
    if (spec === undefined || spec === 'public') return;
    // An unsigned vehicle request is refused before its body is read.
    if (spec === 'vehicle') {
      if (header(req, 'signature-input') === undefined && header(req, 'signature') === undefined) throw new ApiError('UNAUTHENTICATED');
      return;
    }
    const op = await operator(req);
    if (spec === 'vehicle-or-operator') {
      if (op !== undefined) req.operator = op;
      else if (header(req, 'signature-input') === undefined && header(req, 'signature') === undefined) throw new ApiError('UNAUTHENTICATED');
      return;
    }
    if (op === undefined) throw new ApiError('UNAUTHENTICATED');
    if (op.role !== 'admin' && !spec.includes(op.role)) throw new ApiError('FORBIDDEN', `role ${op.role} may not do this`);
    req.operator = op;
  });

  app.addHook('preHandler', async (req) => {
    const spec = req.routeOptions.config.auth;
    if (spec === 'vehicle' || (spec === 'vehicle-or-operator' && req.operator === undefined)) {
      if (header(req, 'signature-input') === undefined && header(req, 'signature') === undefined) throw new ApiError('UNAUTHENTICATED');
      req.vehicle = await vehicle(req);
    }
  });

  // A state-changing vehicle route that did not record its nonce in its transaction: record it now.
  // (A refused request changed nothing: its nonce stays only in this process's memory.)
  app.addHook('preSerialization', async (req, reply, payload) => {
    const n = req.vehicle?.nonce;
    if (n !== undefined && !n.recorded && reply.statusCode < 400) await recordVehicleNonce(ctx.db.kysely, req);
    return payload;
  });
}

const insertNonce = prepared<{ keyId: string; nonce: string; expiresAt: number }>()((db, p) => db.insertInto('request_nonces')
  .values({ key_id: p.keyId, nonce: p.nonce, expires_at: p.expiresAt })
  .onConflict((oc) => oc.columns(['key_id', 'nonce']).doNothing()));

/**
 * Record the request's nonce (state-changing vehicle requests) with `q`, normally the
 * transaction that applies the request: a nonce already recorded (by any server process) is a
 * replay, and the whole transaction fails with REPLAYED_REQUEST.
 */
export async function recordVehicleNonce(q: Kysely<Database> | Transaction<Database>, req: FastifyRequest): Promise<void> {
  const v = req.vehicle;
  const n = v?.nonce;
  if (v === undefined || n === undefined || n.recorded) return;
  if (await insertNonce.run(q, { keyId: v.keyId, nonce: n.nonce, expiresAt: n.expiresAt }) !== 1) throw new ApiError('REPLAYED_REQUEST');
  n.recorded = true;
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Periodic clean-up of expired request nonces. */
export async function pruneNonces(ctx: ServerContext): Promise<void> {
  await ctx.db.kysely.deleteFrom('request_nonces').where('expires_at', '<', ctx.now()).execute();
}
