import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { emptyRoot, leafHash, nodeHash } from '../src/index.js';
import { ascii, hex, vectors } from './helpers.js';

const kat = vectors.hasherKATs;

void describe('hash: RFC 9162 §2.1.1 known answers (transparency-dev/merkle rfc6962_test.go)', () => {
  void it('the empty tree root is SHA-256 of the empty string', () => {
    assert.equal(hex(emptyRoot()), kat.emptyTreeRoot);
  });
  void it('leaf hash of the empty entry is SHA-256(0x00)', () => {
    assert.equal(hex(leafHash(new Uint8Array(0))), kat.leafHash_of_empty);
  });
  void it('leaf hash of "L123456"', () => {
    assert.equal(hex(leafHash(ascii('L123456'))), kat.leafHash_of_ascii_L123456);
  });
  void it('node hash of "N123" and "N456" is SHA-256(0x01 || l || r)', () => {
    assert.equal(hex(nodeHash(ascii('N123'), ascii('N456'))), kat.nodeHash_of_ascii_N123_N456);
  });
  void it('leaf and node hashes are domain-separated (second-preimage defence)', () => {
    const l = leafHash(ascii('a'));
    const r = leafHash(ascii('b'));
    const asNode = new Uint8Array([...l, ...r]);
    assert.notEqual(hex(leafHash(asNode)), hex(nodeHash(l, r)));
  });
  void it('emptyRoot returns a fresh copy (callers cannot corrupt the constant)', () => {
    const a = emptyRoot();
    a[0] = 0;
    assert.equal(hex(emptyRoot()), kat.emptyTreeRoot);
  });
});
