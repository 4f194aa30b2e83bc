/** Shared helpers for the accountability log tests (log*.test.ts, audit*.test.ts). */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { CompactRange, leafHash, openCheckpoint, parseVerifierKey } from '@reflash/log';
import { auditEvents } from '../src/audit/events.js';
import type { AuditEvent } from '../src/audit/events.js';
import type { ServerContext } from '../src/context.js';

export function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** One event of each kind, varied by i. */
export function sampleEvent(i: number): AuditEvent {
  const by = `token:${(i % 7).toString(16).padStart(16, '0')}`;
  switch (i % 6) {
    case 0:
      return auditEvents.imagePublished({ filename: `ecu/fw-${i}.bin`, length: 1000 + i, hashes: { sha256: sha256(`img${i}`) }, hardwareIds: ['hw-a'], role: 'targets', version: i + 1, signerKeyIds: [sha256(`k${i}`)], by });
    case 1:
      return auditEvents.keyRotation({ repo: 'director', role: 'timestamp', rootVersion: 2, added: [sha256(`n${i}`)], removed: [sha256(`o${i}`)], threshold: 1, by });
    case 2:
      return auditEvents.campaignTransition({ campaignId: `c-${i}`, state: 'approved', by });
    case 3:
      return auditEvents.vehicleUpdateResult({
        vin: `WVWZZZ1JZ3W${String(100000 + i)}`, ecuSerial: `ecu-${i}`, hardwareId: 'hw-a',
        from: { sha256: sha256(`old${i}`) }, to: { filename: `ecu/fw-${i}.bin`, length: 1000 + i, sha256: sha256(`img${i}`) },
        status: 'installed', attestation: { signed: { ecu_serial: `ecu-${i}`, counter: i }, signatures: [{ keyid: 'ab', sig: 'cd' }] },
      });
    case 4:
      return auditEvents.rxswinChange({ rxswin: 'R156-XYZ', from: `${i}`, to: `${i + 1}`, vehicleType: 'type-1', by });
    default:
      return auditEvents.recordExport({ kind: 'vehicle-history', records: i, sha256: sha256(`export${i}`), by });
  }
}

/**
 * A third party's full check of the stored log: replay every stored entry from its bytes and
 * compare the root with the latest signed checkpoint (verified with the log key).
 */
export async function replayStoredLog(ctx: ServerContext): Promise<{ size: number; entries: Uint8Array[] }> {
  const cp = await ctx.audit.checkpoint();
  const { checkpoint } = openCheckpoint(cp.note, { origin: ctx.audit.origin, verifiers: [parseVerifierKey(ctx.audit.verifierKey)] });
  const leaves = await ctx.audit.storage.readLeaves(0, checkpoint.size);
  assert.equal(leaves.length, checkpoint.size, 'every signed leaf is stored');
  const range = CompactRange.empty();
  for (const l of leaves) range.append(leafHash(l.entry));
  assert.deepEqual(Buffer.from(range.root()).toString('hex'), Buffer.from(checkpoint.rootHash).toString('hex'), 'the entries hash to the signed root');
  return { size: checkpoint.size, entries: leaves.map((l) => l.entry) };
}
