import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Checkpoint } from '../src/index.js';
import {
  MemoryTree, checkCosignatures, cosignCheckpoint, cosignatureMessage, generateCosigner, generateSigner, openCheckpoint, parseCosignerKey,
  parseCosignerVerifierKey, parseNote, parseSignerKey, parseVerifierKey, signCheckpoint, verifyCosignatures,
} from '../src/index.js';
import { ascii, leaves, throwsCode, unb64 } from './helpers.js';

// c2sp.org/tlog-cosignature examples.
const SPEC_BODY = 'example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n';
const SPEC_NOTE = `${SPEC_BODY}
— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=
— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==
`;

const ORIGIN = 'reflash.example/log';
const log = parseSignerKey(generateSigner(ORIGIN).signerKey);
const witnesses = ['w1.example', 'w2.example', 'w3.example'].map((n) => parseCosignerKey(generateCosigner(n).signerKey));
const policy = (threshold: number, now?: number) => ({
  witnesses: witnesses.map((w) => parseCosignerVerifierKey(w.verifierKey)), threshold, ...(now === undefined ? {} : { now }),
});

function signed(size: number): string {
  const t = new MemoryTree();
  leaves(size).forEach((h) => t.appendLeafHash(h));
  const cp: Checkpoint = { origin: ORIGIN, size, rootHash: t.root(), extensions: [] };
  return signCheckpoint(cp, [log]);
}

void describe('cosignature: c2sp.org/tlog-cosignature v1 (Ed25519)', () => {
  void it('the signed message is the spec example byte for byte', () => {
    const msg = cosignatureMessage(ascii(SPEC_BODY), 1679315147);
    assert.equal(Buffer.from(msg).toString('utf8'), `cosignature/v1\ntime 1679315147\n${SPEC_BODY}`);
  });

  void it('the spec example cosignature line parses: key ID then u64 timestamp 1679315147 then 64 bytes', () => {
    const sig = parseNote(SPEC_NOTE).signatures[1]!;
    assert.equal(sig.keyId.toString(16), '8d66cf3f');
    assert.equal(sig.signature.length, 72);
    const w = parseCosignerVerifierKey(generateCosigner('witness.example.com/w1').verifierKey);
    assert.equal(w.timestamp(sig.signature), 1679315147);
    assert.equal(unb64('jWbPPwAAAABkGFDL')[4], 0);
  });

  void it('k of n: two of three witnesses cosigned, threshold 2 passes and the log signature still verifies', () => {
    let note = signed(10);
    note = cosignCheckpoint(note, witnesses[0]!, 1700000000);
    note = cosignCheckpoint(note, witnesses[2]!, 1700000005);
    const r = verifyCosignatures(note, policy(2, 1700000100));
    assert.deepEqual(r.valid, [{ name: 'w1.example', timestamp: 1700000000 }, { name: 'w3.example', timestamp: 1700000005 }]);
    assert.equal(r.missing, 0);
    openCheckpoint(note, { origin: ORIGIN, verifiers: [parseVerifierKey(log.verifierKey)] });
  });

  void it('too few witnesses: LOG_COSIGNATURE_THRESHOLD, and the tool result says how many are missing', () => {
    const note = cosignCheckpoint(signed(10), witnesses[1]!, 1700000000);
    throwsCode(() => verifyCosignatures(note, policy(3)), 'LOG_COSIGNATURE_THRESHOLD');
    assert.equal(checkCosignatures(note, policy(3)).missing, 2);
  });

  void it('one witness cosigning twice counts once', () => {
    let note = cosignCheckpoint(signed(4), witnesses[0]!, 1);
    note = cosignCheckpoint(note, witnesses[0]!, 2);
    throwsCode(() => verifyCosignatures(note, policy(2)), 'LOG_COSIGNATURE_THRESHOLD');
  });

  void it('split view: a cosignature copied onto another checkpoint does not verify', () => {
    const a = cosignCheckpoint(signed(5), witnesses[0]!, 100);
    const line = a.slice(a.lastIndexOf('— w1.example'));
    throwsCode(() => verifyCosignatures(signed(6) + line, policy(1)), 'LOG_BAD_SIGNATURE');
  });

  void it('a changed timestamp breaks the signature (the time is signed)', () => {
    const a = cosignCheckpoint(signed(5), witnesses[0]!, 100);
    const sig = parseNote(a).signatures.at(-1)!;
    const raw = Buffer.from([0, 0, 0, 0, ...sig.signature]);
    raw.writeUInt32BE(sig.keyId, 0);
    raw.writeBigUInt64BE(101n, 4);
    const forged = a.slice(0, a.lastIndexOf('— w1.example')) + `— w1.example ${raw.toString('base64')}\n`;
    throwsCode(() => verifyCosignatures(forged, policy(1)), 'LOG_BAD_SIGNATURE');
  });

  void it('a cosignature from the future (after the injected reference time) is refused', () => {
    const note = cosignCheckpoint(signed(3), witnesses[0]!, 2000);
    throwsCode(() => verifyCosignatures(note, policy(1, 1999)), 'LOG_COSIGNATURE_IN_FUTURE');
    verifyCosignatures(note, policy(1, 2000));
  });

  void it('cosigner keys use signature type 0x04: note keys (0x01) are not witness keys and vice versa', () => {
    throwsCode(() => parseCosignerVerifierKey(log.verifierKey), 'LOG_MALFORMED_KEY');
    throwsCode(() => parseVerifierKey(witnesses[0]!.verifierKey), 'LOG_MALFORMED_KEY');
    throwsCode(() => parseCosignerKey(generateSigner('x').signerKey), 'LOG_MALFORMED_KEY');
    // A witness cosignature is not a log signature.
    const note = cosignCheckpoint(signed(3), witnesses[0]!, 1).replace(/^— reflash\.example\/log .*\n/m, '');
    throwsCode(() => openCheckpoint(note, { origin: ORIGIN, verifiers: [parseVerifierKey(log.verifierKey)] }), 'LOG_NO_TRUSTED_SIGNATURE');
  });

  void it('policy misuse: threshold out of range, the same witness key listed twice', () => {
    const note = signed(2);
    throwsCode(() => checkCosignatures(note, { witnesses: policy(1).witnesses, threshold: 0 }), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => checkCosignatures(note, { witnesses: policy(1).witnesses, threshold: 4 }), 'LOG_INVALID_ARGUMENT');
    const w = parseCosignerVerifierKey(witnesses[0]!.verifierKey);
    throwsCode(() => checkCosignatures(note, { witnesses: [w, w], threshold: 1 }), 'LOG_INVALID_ARGUMENT');
  });
});
