import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Checkpoint } from '../src/index.js';
import {
  MemoryTree, cosignCheckpoint, formatReceipt, generateCosigner, generateSigner, parseCosignerKey, parseCosignerVerifierKey, parseReceipt,
  parseSignerKey, parseVerifierKey, signCheckpoint, verifyReceipt, createReceipt,
} from '../src/index.js';
import { ascii, b64, rejectsCode, throwsCode } from './helpers.js';

// c2sp.org/tlog-proof example (signatures elided with [...] in the spec, so parse only).
const SPEC_EXAMPLE = `c2sp.org/tlog-proof@v1
extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ
index 73894
gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=
B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=
EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=
RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=
AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=

example.com/fancylog
109482
sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=

— example.com/fancylog hI2DJw[...]1roloI=
— witness1.example mJirIklj[...]qY9v2B/5bg==
`;

const ORIGIN = 'reflash.example/audit';
const logKey = generateSigner(ORIGIN);
const signer = parseSignerKey(logKey.signerKey);
const verifiers = [parseVerifierKey(logKey.verifierKey)];
const entries = Array.from({ length: 50 }, (_, i) => ascii(`{"vehicle":"VIN${i}","result":"installed"}`));
const tree = new MemoryTree();
entries.forEach((e) => tree.append(e));
const cp: Checkpoint = { origin: ORIGIN, size: 50, rootHash: tree.root(), extensions: [] };
const signed = signCheckpoint(cp, [signer]);

void describe('receipt: c2sp.org/tlog-proof@v1 offline receipts', () => {
  void it('a receipt verifies offline with only the entry, the origin and the log verifier key', async () => {
    const receipt = await createReceipt(tree, 17, signed);
    assert.ok(receipt.startsWith('c2sp.org/tlog-proof@v1\nindex 17\n'));
    assert.ok(receipt.endsWith(`\n\n${signed}`));
    const r = verifyReceipt(receipt, entries[17]!, { origin: ORIGIN, verifiers });
    assert.equal(r.index, 17);
    assert.equal(r.checkpoint.size, 50);
  });

  void it('the server refuses to issue a receipt when its storage disagrees with the checkpoint', async () => {
    const other = new MemoryTree();
    entries.forEach((e, i) => other.append(i === 3 ? ascii('corrupted') : e));
    await rejectsCode(() => createReceipt(other, 17, signed), 'LOG_STORAGE_BAD_READ');
    await rejectsCode(() => createReceipt(tree, 50, signed), 'LOG_INVALID_ARGUMENT');
  });

  void it('extra data round-trips (and is not authenticated)', () => {
    const receipt = formatReceipt({ index: 3, proof: tree.inclusionProof(3), checkpoint: signed, extra: ascii('campaign-42') });
    assert.ok(receipt.includes(`\nextra ${b64(ascii('campaign-42'))}\nindex 3\n`));
    assert.equal(Buffer.from(verifyReceipt(receipt, entries[3]!, { origin: ORIGIN, verifiers }).extra!).toString(), 'campaign-42');
  });

  void it('the spec example parses: extra, index 73894, five hashes, verbatim checkpoint', () => {
    const r = parseReceipt(SPEC_EXAMPLE);
    assert.equal(r.index, 73894);
    assert.equal(r.proof.length, 5);
    assert.ok(Buffer.from(r.extra!).toString('latin1').startsWith('age-v1.2.1-darwin-arm64.tar.gz'));
    assert.ok(r.checkpoint.startsWith('example.com/fancylog\n109482\n'));
    assert.ok(r.checkpoint.endsWith('qY9v2B/5bg==\n'));
  });

  void it('a receipt for another entry, index or log is refused', () => {
    const receipt = formatReceipt({ index: 17, proof: tree.inclusionProof(17), checkpoint: signed });
    throwsCode(() => verifyReceipt(receipt, entries[18]!, { origin: ORIGIN, verifiers }), 'LOG_BAD_INCLUSION_PROOF');
    throwsCode(() => verifyReceipt(receipt.replace('index 17', 'index 18'), entries[18]!, { origin: ORIGIN, verifiers }), 'LOG_BAD_INCLUSION_PROOF');
    throwsCode(() => verifyReceipt(receipt.replace('index 17', 'index 50'), entries[17]!, { origin: ORIGIN, verifiers }), 'LOG_INDEX_OUT_OF_RANGE');
    throwsCode(() => verifyReceipt(receipt, entries[17]!, { origin: 'other.example/log', verifiers }), 'LOG_ORIGIN_MISMATCH');
    throwsCode(() => verifyReceipt(receipt, entries[17]!, { origin: ORIGIN, verifiers: [parseVerifierKey(generateSigner(ORIGIN).verifierKey)] }), 'LOG_NO_TRUSTED_SIGNATURE');
  });

  void it('a receipt whose checkpoint was re-rooted by an attacker fails the log signature', () => {
    const t2 = new MemoryTree();
    entries.forEach((e, i) => t2.append(i === 17 ? ascii('forged') : e));
    const body = `${ORIGIN}\n50\n${b64(t2.root())}\n`;
    const forgedCheckpoint = signed.replace(/^[^\n]*\n[^\n]*\n[^\n]*\n/, body);
    const receipt = formatReceipt({ index: 17, proof: t2.inclusionProof(17), checkpoint: forgedCheckpoint });
    throwsCode(() => verifyReceipt(receipt, ascii('forged'), { origin: ORIGIN, verifiers }), 'LOG_BAD_SIGNATURE');
  });

  void it('with a witness policy the checkpoint must carry k cosignatures', () => {
    const w = parseCosignerKey(generateCosigner('witness.example').signerKey);
    const policy = { witnesses: [parseCosignerVerifierKey(w.verifierKey)], threshold: 1 };
    const plain = formatReceipt({ index: 2, proof: tree.inclusionProof(2), checkpoint: signed });
    throwsCode(() => verifyReceipt(plain, entries[2]!, { origin: ORIGIN, verifiers, witnesses: policy }), 'LOG_COSIGNATURE_THRESHOLD');
    const cosigned = formatReceipt({ index: 2, proof: tree.inclusionProof(2), checkpoint: cosignCheckpoint(signed, w, 1700000000) });
    const r = verifyReceipt(cosigned, entries[2]!, { origin: ORIGIN, verifiers, witnesses: policy });
    assert.equal(r.cosignatures?.valid[0]?.timestamp, 1700000000);
  });

  void describe('malformed receipts are LOG_MALFORMED_RECEIPT', () => {
    const good = formatReceipt({ index: 5, proof: tree.inclusionProof(5), checkpoint: signed });
    const cases: Record<string, string> = {
      'missing header': good.replace('c2sp.org/tlog-proof@v1\n', ''),
      'other version': good.replace('@v1', '@v2'),
      'index with a leading zero': good.replace('index 5', 'index 05'),
      'negative index': good.replace('index 5', 'index -5'),
      'index beyond 2^53': good.replace('index 5', 'index 18446744073709551615'),
      'no index line': good.replace('index 5\n', ''),
      'extra not base64': good.replace('index 5', 'extra !!\nindex 5'),
      'proof hash of 31 bytes': good.replace('index 5\n', `index 5\n${b64(new Uint8Array(31))}\n`),
      'proof hash not base64': good.replace('index 5\n', 'index 5\nnot base64\n'),
      'more than 64 proof hashes': good.replace('index 5\n', `index 5\n${`${b64(new Uint8Array(32))}\n`.repeat(65)}`),
      'no blank line before the checkpoint': 'c2sp.org/tlog-proof@v1\nindex 5\n',
      'no checkpoint': 'c2sp.org/tlog-proof@v1\nindex 5\n\n',
    };
    for (const [name, text] of Object.entries(cases)) {
      void it(name, () => void throwsCode(() => verifyReceipt(text, entries[5]!, { origin: ORIGIN, verifiers }), 'LOG_MALFORMED_RECEIPT'));
    }
    void it('a receipt whose checkpoint is not a signed note', () => {
      throwsCode(() => verifyReceipt(good.replace(/\n\n[^]*$/, '\n\nnot a note\n'), entries[5]!, { origin: ORIGIN, verifiers }), 'LOG_MALFORMED_NOTE');
    });
  });
});
