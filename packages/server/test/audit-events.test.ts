/** Log entries: typed event constructors, canonical encoding, VIN pseudonymisation, the log's sealed secrets. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalize } from '@reflash/metadata';
import { AuditEventError, auditEvents, encodeEntry } from '../src/audit/events.js';
import { loadLogKeys, seal, unseal } from '../src/audit/keys.js';
import { VinHasher } from '../src/audit/vin-hash.js';
import { openDb } from '../src/db/connect.js';
import { sampleEvent, sha256 } from './audit-helpers.js';

const T = Date.parse('2026-11-21T12:00:00Z');
const opts = { now: T, vinHash: (v: string) => `h(${v})` };

describe('audit events', () => {
  it('every kind encodes to canonical JSON with v, type and an ISO time', () => {
    const types = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const bytes = encodeEntry(sampleEvent(i), opts);
      const json = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
      assert.equal(Buffer.from(bytes).toString('utf8'), canonicalize(json));
      assert.equal(json['v'], 1);
      assert.equal(json['time'], '2026-11-21T12:00:00.000Z');
      types.add(json['type'] as string);
    }
    assert.deepEqual([...types].sort(), ['campaign', 'image-published', 'key-rotation', 'record-export', 'rxswin-change', 'vehicle-update-result']);
  });

  it('replaces the VIN by its hash in every event that names a vehicle', () => {
    for (const e of [
      auditEvents.vehicleUpdateResult({ vin: 'VIN1', ecuSerial: 's', from: null, to: { sha256: sha256('x') }, status: 'failed', reason: 'power loss', attestation: { a: 1 }, time: T + 1 }),
      auditEvents.rxswinChange({ rxswin: 'R', from: null, to: '1', vin: 'VIN1', by: 'token:1' }),
      auditEvents.recordExport({ kind: 'history', records: 1, sha256: sha256('e'), vin: 'VIN1', by: 'token:1' }),
    ]) {
      const text = Buffer.from(encodeEntry(e, opts)).toString('utf8');
      assert.ok(!text.includes('"vin"'), text);
      assert.ok(text.includes('"vinHash":"h(VIN1)"'), text);
    }
    const withTime = JSON.parse(Buffer.from(encodeEntry(auditEvents.campaignTransition({ campaignId: 'c', state: 'paused', by: 'token:1', time: T + 1500 }), opts)).toString('utf8')) as { time: string };
    assert.equal(withTime.time, '2026-11-21T12:00:01.500Z');
  });

  it('constructors refuse malformed input with AuditEventError', () => {
    const bad: Array<() => unknown> = [
      () => auditEvents.imagePublished({ filename: '', length: 1, hashes: { sha256: sha256('a') }, hardwareIds: [], role: 'targets', version: 1, signerKeyIds: [], by: 'x' }),
      () => auditEvents.imagePublished({ filename: 'f', length: -1, hashes: { sha256: sha256('a') }, hardwareIds: [], role: 'targets', version: 1, signerKeyIds: [], by: 'x' }),
      () => auditEvents.imagePublished({ filename: 'f', length: 1, hashes: { sha256: 'ABC' }, hardwareIds: [], role: 'targets', version: 1, signerKeyIds: [], by: 'x' }),
      () => auditEvents.keyRotation({ repo: 'other' as 'image', role: 'root', added: [], removed: [], by: 'x' }),
      () => auditEvents.campaignTransition({ campaignId: 'c', state: 'exploded' as 'started', by: 'x' }),
      () => auditEvents.vehicleUpdateResult({ vin: 'V', ecuSerial: 's', from: null, to: { sha256: 'nothex' }, status: 'installed', attestation: {} }),
      () => auditEvents.vehicleUpdateResult({ vin: 'V', ecuSerial: 's', from: null, to: { sha256: sha256('a') }, status: 'done' as 'installed', attestation: {} }),
      () => auditEvents.rxswinChange({ rxswin: 'R', from: null, to: '', by: 'x' }),
      () => auditEvents.recordExport({ kind: 'k', records: 1.5, sha256: sha256('a'), by: 'x' }),
    ];
    for (const f of bad) assert.throws(f, AuditEventError);
  });

  it('refuses entries larger than the tlog-tiles limit of 65,535 bytes, and floats', () => {
    const huge = auditEvents.vehicleUpdateResult({ vin: 'V', ecuSerial: 's', from: null, to: { sha256: sha256('a') }, status: 'installed', attestation: { blob: 'x'.repeat(70_000) } });
    assert.throws(() => encodeEntry(huge, opts), /exceeds 65535/);
    const float = auditEvents.vehicleUpdateResult({ vin: 'V', ecuSerial: 's', from: null, to: { sha256: sha256('a') }, status: 'installed', attestation: { x: 0.5 } });
    assert.throws(() => encodeEntry(float, opts), AuditEventError);
  });

  it('the VIN hash is keyed: stable for one salt, unrelated across salts, not a plain SHA-256', () => {
    const a = new VinHasher(Buffer.alloc(32, 1));
    const b = new VinHasher(Buffer.alloc(32, 2));
    assert.equal(a.hash('WVWZZZ1JZ3W386752'), a.hash('WVWZZZ1JZ3W386752'));
    assert.notEqual(a.hash('WVWZZZ1JZ3W386752'), b.hash('WVWZZZ1JZ3W386752'));
    assert.notEqual(a.hash('WVWZZZ1JZ3W386752'), sha256('WVWZZZ1JZ3W386752'));
    assert.throws(() => new VinHasher(Buffer.alloc(16)), RangeError);
  });
});

describe('audit log secrets', () => {
  it('seal/unseal round-trips, and the wrong master key or purpose is refused', () => {
    const s = seal('m'.repeat(32), 'seed', Buffer.from('secret'));
    assert.equal(Buffer.from(unseal('m'.repeat(32), 'seed', s)).toString(), 'secret');
    assert.throws(() => unseal('n'.repeat(32), 'seed', s), /wrong master key/);
    assert.throws(() => unseal('m'.repeat(32), 'vin-salt', s), /wrong master key/);
    assert.ok(!s.includes(Buffer.from('secret').toString('base64url')));
  });

  it('creates the log key once, keeps it, and refuses a changed origin', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'reflash-logkeys-'));
    const db = await openDb({ url: `sqlite:${join(dir, 'db.sqlite')}` });
    try {
      const k1 = await loadLogKeys(db, 'm'.repeat(32), 'fleet.example/log', T);
      const k2 = await loadLogKeys(db, 'm'.repeat(32), 'fleet.example/log', T);
      assert.equal(k1.verifierKey, k2.verifierKey);
      assert.deepEqual(k1.vinSalt, k2.vinSalt);
      assert.match(k1.verifierKey, /^fleet\.example\/log\+[0-9a-f]{8}\+/);
      await assert.rejects(loadLogKeys(db, 'm'.repeat(32), 'other.example/log', T), /identity cannot change/);
      await assert.rejects(loadLogKeys(db, 'x'.repeat(32), 'fleet.example/log', T), /wrong master key/);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
