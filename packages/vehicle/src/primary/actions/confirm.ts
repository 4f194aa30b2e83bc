/**
 * confirm: the integration check across the bundle (STANDARDS.md §3 "integration check between
 * modules"; TCG attestation, §4): every ECU of the bundle reports, with a fresh nonce, a signed
 * version report whose attestation verifies with its key and names the expected image, and
 * runs it from a healthy pending bank. Any failure rolls the whole bundle back.
 */
import { randomBytes } from 'node:crypto';
import { sameImage } from '../../digest.js';
import { verifyAttestation } from '../../ecu/attestation.js';
import type { Action } from '../context.js';
import { linkOf, requireBundle, withOutcome } from '../context.js';

export const confirm: Action = async (ctx, rec) => {
  for (const item of requireBundle(rec).items) {
    const link = linkOf(ctx, item.ecuSerial);
    const report = await link.versionReport({ nonce: randomBytes(16).toString('hex') });
    const att = verifyAttestation(report, link.key);
    const st = await link.status();
    const problem = !att.valid ? `attestation: ${att.reason}`
      : !sameImage(report.signed.installedImage, item.image) ? `runs ${report.signed.installedImage.filepath}, expected ${item.image.filepath}`
        : st.running.status !== 'pending' || !st.running.healthy ? `bank ${st.running.bank} is ${st.running.status}${st.running.healthy ? '' : ', not healthy'}`
          : undefined;
    if (problem !== undefined) {
      return { event: 'failed', record: withOutcome(rec, 'rolled-back', { code: 'INTEGRATION_CHECK', reason: `ECU ${item.ecuSerial}: ${problem}` }) };
    }
  }
  return { event: 'ok', record: rec };
};
