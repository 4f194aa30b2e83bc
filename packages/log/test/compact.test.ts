import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HashReader, NodeId } from '../src/index.js';
import { CompactRange, MemoryTree, inclusionProof, consistencyProof } from '../src/index.js';
import { hex, leaves, throwsCode, vectors } from './helpers.js';

/** What a server would persist: the nodes reported by each append, keyed by (level, index). */
class NodeStore implements HashReader {
  readonly nodes = new Map<string, Uint8Array>();
  readNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
    return Promise.resolve(ids.map((id) => {
      const h = this.nodes.get(`${id.level}/${id.index}`);
      assert.ok(h, `node ${id.level}/${id.index} was never stored`);
      return h;
    }));
  }
}

void describe('compact: right-edge frontier, O(log n) per append', () => {
  const d = leaves(300);
  const tree = new MemoryTree();
  d.forEach((h) => tree.appendLeafHash(h));

  void it('the root after each append matches MemoryTree for sizes 0..300', () => {
    const cr = CompactRange.empty();
    assert.equal(hex(cr.root()), vectors.hasherKATs.emptyTreeRoot);
    d.forEach((h, i) => {
      cr.append(h);
      assert.equal(cr.size, i + 1);
      assert.equal(hex(cr.root()), hex(tree.root(i + 1)), `size ${i + 1}`);
    });
  });

  void it('each append reports exactly the new complete-subtree nodes, enough to serve every proof', async () => {
    const cr = CompactRange.empty();
    const store = new NodeStore();
    let created = 0;
    for (const h of d) {
      for (const n of cr.append(h)) {
        const key = `${n.id.level}/${n.id.index}`;
        assert.ok(!store.nodes.has(key), `node ${key} reported twice`);
        assert.equal(hex(n.hash), hex(tree.readNodesSync([n.id])[0]!));
        store.nodes.set(key, n.hash);
        created++;
      }
    }
    assert.equal(created, 2 * 300 - 4); // 2n - popcount(n) complete nodes (300 = 0b100101100)
    for (const [i, n] of [[0, 300], [299, 300], [150, 257], [31, 32]] as const) {
      assert.deepEqual((await inclusionProof(store, i, n)).map(hex), tree.inclusionProof(i, n).map(hex));
    }
    assert.deepEqual((await consistencyProof(store, 77, 300)).map(hex), tree.consistencyProof(77, 300).map(hex));
  });

  void it('the frontier survives JSON and resumes appending (server restart / verifier state)', () => {
    const cr = CompactRange.empty();
    d.slice(0, 123).forEach((h) => cr.append(h));
    const json = JSON.parse(JSON.stringify(cr)) as unknown;
    const resumed = CompactRange.fromJSON(json);
    assert.equal(resumed.size, 123);
    assert.equal(resumed.hashes().length, 6); // popcount(123)
    d.slice(123).forEach((h) => resumed.append(h));
    assert.equal(hex(resumed.root()), hex(tree.root()));
    assert.equal(cr.size, 123, 'the original is untouched');
  });

  void it('load reads the frontier of a stored tree with popcount(size) node reads', async () => {
    let reads = 0;
    const reader: HashReader = { readNodes: (ids) => ((reads += ids.length), tree.readNodes(ids)) };
    const cr = await CompactRange.load(reader, 255);
    assert.equal(reads, 8);
    assert.equal(hex(cr.root()), hex(tree.root(255)));
    const cl = cr.clone();
    cl.append(d[255]!);
    assert.equal(hex(cl.root()), hex(tree.root(256)));
    assert.equal(cr.size, 255);
  });

  void it('a corrupted frontier is refused with a coded error', () => {
    const good = CompactRange.empty();
    d.slice(0, 5).forEach((h) => good.append(h));
    const j = good.toJSON();
    throwsCode(() => CompactRange.fromJSON({ ...j, size: 7 }), 'LOG_BAD_TREE_SIZE');
    throwsCode(() => CompactRange.fromJSON({ ...j, size: -1 }), 'LOG_BAD_TREE_SIZE');
    throwsCode(() => CompactRange.fromJSON({ ...j, hashes: [j.hashes[0], 'not base64!'] }), 'LOG_BAD_HASH_LENGTH');
    throwsCode(() => CompactRange.fromJSON({ ...j, hashes: [j.hashes[0], 'AAAA'] }), 'LOG_BAD_HASH_LENGTH');
    throwsCode(() => CompactRange.fromJSON(null), 'LOG_BAD_TREE_SIZE');
    throwsCode(() => CompactRange.fromJSON('x'), 'LOG_BAD_TREE_SIZE');
    throwsCode(() => good.append(new Uint8Array(3)), 'LOG_INVALID_ARGUMENT');
  });
});
