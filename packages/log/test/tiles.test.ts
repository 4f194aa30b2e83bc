import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TileId } from '../src/index.js';
import {
  MemoryTree, consistencyProof, decodeEntryBundle, decodeHashTile, encodeEntryBundle, encodeHashTile, entryBundlePath, inclusionProof,
  leafHash, parseTilePath, rootAt, tileForNode, tileHashReader, tileIndexPath, tileNodeIds, tilePath, tilesForSize,
} from '../src/index.js';
import { ascii, hex, leaves, rejectsCode, throwsCode, vectors } from './helpers.js';

const ex = vectors.tlogTilesExamples;

void describe('tiles: c2sp.org/tlog-tiles', () => {
  void it('tile index 1234067 is encoded x001/x234/067 (spec example)', () => {
    assert.equal(tileIndexPath(1234067), ex.tilePath_1234067);
    assert.equal(tileIndexPath(0), '000');
    assert.equal(tileIndexPath(999), '999');
    assert.equal(tileIndexPath(1000), 'x001/000');
    assert.equal(tileIndexPath(2 ** 53 - 1), 'x009/x007/x199/x254/x740/991');
  });

  void it('tile and entry-bundle paths, full and partial', () => {
    assert.equal(tilePath({ level: 0, index: 1234067, width: 256 }), 'tile/0/x001/x234/067');
    assert.equal(tilePath({ level: 2, index: 0, width: 1 }), 'tile/2/000.p/1');
    assert.equal(entryBundlePath(273, 112), 'tile/entries/273.p/112');
    assert.equal(entryBundlePath(1234067), 'tile/entries/x001/x234/067');
    throwsCode(() => tilePath({ level: 64, index: 0, width: 256 }), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => tilePath({ level: 0, index: 0, width: 0 }), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => tilePath({ level: 0, index: -1, width: 3 }), 'LOG_INVALID_ARGUMENT');
  });

  void it('tile paths parse back, and non-canonical paths are refused', () => {
    for (const t of [{ level: 0, index: 1234067, width: 256 }, { level: 63, index: 5, width: 17 }]) assert.deepEqual(parseTilePath(tilePath(t)), t);
    assert.deepEqual(parseTilePath('tile/entries/x001/000.p/3'), { level: -1, index: 1000, width: 3 });
    for (const bad of ['tile/0/1', 'tile/0/x000/001', 'tile/64/000', 'tile/00/000', 'tile/0/000.p/256', 'tile/0/000.p/0', 'tile/0/000.p/012', 'tile/0/001/002', '/tile/0/000', 'tile/0/000/']) {
      throwsCode(() => parseTilePath(bad), 'LOG_MALFORMED_TILE');
    }
  });

  void it('a tree of 70,000 has 273 full + 1 partial(112) level-0, 1 full + partial(17) level-1, partial(1) level-2 tiles', () => {
    assert.deepEqual(tilesForSize(70000), ex.tiles_for_treeSize_70000);
  });

  void it('a tree of 256 has one full level-0 tile and a partial level-1 tile of width 1', () => {
    assert.deepEqual(tilesForSize(256), ex.tiles_for_treeSize_256);
    assert.deepEqual(tilesForSize(0), []);
  });

  void it('entry bundles: big-endian uint16 length prefixes, and each entry hashes to the level-0 tile', () => {
    const entries = [ascii(''), ascii('a'), new Uint8Array(300).fill(7), new Uint8Array(65535)];
    const bundle = encodeEntryBundle(entries);
    assert.equal(hex(bundle.subarray(0, 5)), '0000000161');
    assert.equal(hex(bundle.subarray(5, 7)), '012c');
    assert.deepEqual(decodeEntryBundle(bundle, 4).map(hex), entries.map(hex));
    const tile = encodeHashTile(entries.map(leafHash));
    assert.deepEqual(decodeHashTile(tile, 4).map(hex), decodeEntryBundle(bundle).map(leafHash).map(hex));
  });

  void it('malformed bundles and tiles are LOG_MALFORMED_TILE; oversized entries are misuse', () => {
    const bundle = encodeEntryBundle([ascii('abc'), ascii('de')]);
    throwsCode(() => decodeEntryBundle(bundle.subarray(0, bundle.length - 1)), 'LOG_MALFORMED_TILE');
    throwsCode(() => decodeEntryBundle(bundle.subarray(0, 6)), 'LOG_MALFORMED_TILE');
    throwsCode(() => decodeEntryBundle(new Uint8Array(0)), 'LOG_MALFORMED_TILE');
    throwsCode(() => decodeEntryBundle(bundle, 3), 'LOG_MALFORMED_TILE');
    throwsCode(() => decodeEntryBundle(new Uint8Array(2 * 257)), 'LOG_MALFORMED_TILE');
    throwsCode(() => decodeHashTile(new Uint8Array(33)), 'LOG_MALFORMED_TILE');
    throwsCode(() => decodeHashTile(new Uint8Array(64), 3), 'LOG_MALFORMED_TILE');
    throwsCode(() => decodeHashTile(new Uint8Array(32 * 257)), 'LOG_MALFORMED_TILE');
    throwsCode(() => encodeEntryBundle([new Uint8Array(65536)]), 'LOG_INVALID_ARGUMENT');
    throwsCode(() => encodeHashTile([]), 'LOG_INVALID_ARGUMENT');
  });

  void describe('proofs from tiles (a verifier reading a tiled log)', () => {
    const SIZE = 70000;
    const tree = new MemoryTree();
    leaves(SIZE).forEach((h) => tree.appendLeafHash(h));
    // What the log serves at this size: every full tile and the partial tile of each level.
    const served = new Map<string, Uint8Array>();
    for (const lv of tilesForSize(SIZE)) {
      const tiles: TileId[] = Array.from({ length: lv.fullTiles }, (_, index) => ({ level: lv.level, index, width: 256 }));
      if (lv.partialWidth > 0) tiles.push({ level: lv.level, index: lv.fullTiles, width: lv.partialWidth });
      for (const t of tiles) served.set(tilePath(t), encodeHashTile(tree.readNodesSync(tileNodeIds(t))));
    }
    let fetches = 0;
    const reader = tileHashReader(SIZE, (_tile, path) => {
      fetches++;
      const b = served.get(path);
      return b === undefined ? Promise.reject(new Error(`404 ${path}`)) : Promise.resolve(b);
    });

    void it('node (9, 3) is rebuilt from two level-1 tile hashes (level 8, indexes 6 and 7)', () => {
      assert.deepEqual(tileForNode({ level: 9, index: 3 }, SIZE), { tile: { level: 1, index: 0, width: 256 }, first: 6, count: 2 });
      assert.deepEqual(tileForNode({ level: 0, index: 69999 }, SIZE), { tile: { level: 0, index: 273, width: 112 }, first: 111, count: 1 });
    });

    void it('inclusion and consistency proofs and the root from tiles equal the tree', async () => {
      assert.equal(hex(await rootAt(reader, SIZE)), hex(tree.root()));
      for (const i of [0, 255, 256, 12345, 65535, 65536, 69999]) {
        fetches = 0;
        assert.deepEqual((await inclusionProof(reader, i, SIZE)).map(hex), tree.inclusionProof(i).map(hex), `leaf ${i}`);
        assert.ok(fetches <= 6, `${fetches} tile fetches`);
      }
      for (const s of [1, 1000, 65536, 69999]) assert.deepEqual((await consistencyProof(reader, s, SIZE)).map(hex), tree.consistencyProof(s).map(hex));
    });

    void it('a tile of the wrong width is refused', async () => {
      const short = tileHashReader(SIZE, () => Promise.resolve(new Uint8Array(32 * 3)));
      await rejectsCode(() => inclusionProof(short, 5, SIZE), 'LOG_MALFORMED_TILE');
    });
  });
});
