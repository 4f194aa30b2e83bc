/**
 * Real Certificate Transparency data: Google Argon 2020 (golang/mod sumdb/tlog/testdata,
 * captured RFC 6962 §4 JSON API responses). Inclusion of leaf 10000 and consistency from
 * 3,654,490 to 961,984,013 leaves, under a tree head signed with the log's ECDSA P-256 key.
 */
import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { describe, it } from 'node:test';
import { leafHash, verifyConsistency, verifyInclusion } from '../src/index.js';
import { hex, throwsCode, unb64, vectors } from './helpers.js';

const ct = vectors.realWorld_CT_Argon2020;
const sth = ct['get-sth'];
const root = unb64(sth.sha256_root_hash);

/** RFC 6962 §3.5 TreeHeadSignature: version(0) || signature_type(1) || timestamp || tree_size || root. */
function treeHeadTbs(timestamp: number, size: number, rootHash: Uint8Array): Uint8Array {
  const b = Buffer.alloc(2 + 8 + 8 + 32);
  b[0] = 0; // v1
  b[1] = 1; // tree_hash
  b.writeBigUInt64BE(BigInt(timestamp), 2);
  b.writeBigUInt64BE(BigInt(size), 10);
  b.set(rootHash, 18);
  return b;
}

void describe('real world: CT log Argon 2020', () => {
  void it('the signed tree head verifies with the log key (ECDSA P-256, SHA-256, RFC 5246 DigitallySigned)', () => {
    const tbs = treeHeadTbs(sth.timestamp, sth.tree_size, root);
    assert.equal(hex(tbs), ct.treeHeadSignature.tbs_hex);
    const ds = unb64(sth.tree_head_signature);
    assert.equal(ds[0], ct.treeHeadSignature.digitallySigned_hash_alg); // sha256
    assert.equal(ds[1], ct.treeHeadSignature.sig_alg); // ecdsa
    const len = (ds[2]! << 8) | ds[3]!;
    assert.equal(ds.length, 4 + len);
    const key = createPublicKey({ key: Buffer.from(unb64(ct.logPublicKey_spki_b64)), format: 'der', type: 'spki' });
    assert.ok(verify('sha256', tbs, key, ds.subarray(4)));
    const other = treeHeadTbs(sth.timestamp, sth.tree_size - 1, root);
    assert.ok(!verify('sha256', other, key, ds.subarray(4)), 'a forged tree size must not verify');
  });

  void it('the leaf hash of entry 10000 is recomputed from its leaf_input', () => {
    assert.equal(hex(leafHash(unb64(ct['get-entries_10000_leaf_input_b64']))), ct.leafHash_hex);
  });

  void it('entry 10000 is included in the 961,984,013-leaf tree', () => {
    const p = ct['get-proof-by-hash'];
    const leaf = leafHash(unb64(ct['get-entries_10000_leaf_input_b64']));
    verifyInclusion(leaf, p.leaf_index, sth.tree_size, p.audit_path.map(unb64), root);
    throwsCode(() => verifyInclusion(leaf, p.leaf_index + 1, sth.tree_size, p.audit_path.map(unb64), root), 'LOG_BAD_INCLUSION_PROOF');
  });

  void it('the tree of 3,654,490 leaves is a prefix of the 961,984,013-leaf tree', () => {
    const c = ct['get-sth-consistency'];
    assert.equal(c.second, sth.tree_size);
    verifyConsistency(c.first, c.second, c.consistency.map(unb64), unb64(c.first_root_b64), root);
    const forged = unb64(c.first_root_b64);
    forged[0]! ^= 1;
    throwsCode(() => verifyConsistency(c.first, c.second, c.consistency.map(unb64), forged, root), 'LOG_BAD_CONSISTENCY_PROOF');
  });
});
