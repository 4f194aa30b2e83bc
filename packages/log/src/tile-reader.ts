/**
 * A HashReader over c2sp.org/tlog-tiles hash tiles, so a verifier (or a mirror) can build any
 * inclusion or consistency proof from fetched tiles. Tile content is untrusted: proofs built
 * from it must still be verified against a signed checkpoint.
 */
import { nodeHash } from './hash.js';
import type { NodeId } from './node-id.js';
import type { HashReader } from './proof.js';
import type { TileId } from './tiles.js';
import { decodeHashTile, tileForNode, tilePath } from './tiles.js';

/** Fetches the raw bytes of a hash tile (e.g. GET <prefix>/tile/<L>/<N>[.p/<W>]). */
export type TileFetcher = (tile: TileId, path: string) => Promise<Uint8Array>;

/** Folds 2^k consecutive hashes of one perfect subtree into its root. */
function foldPerfect(hashes: Uint8Array[]): Uint8Array {
  let row = hashes;
  while (row.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < row.length; i += 2) next.push(nodeHash(row[i]!, row[i + 1]!));
    row = next;
  }
  return row[0]!;
}

/** A HashReader for the tree of `size` leaves; each needed tile is fetched once per call. */
export function tileHashReader(size: number, fetchTile: TileFetcher): HashReader {
  return {
    async readNodes(ids: readonly NodeId[]): Promise<Uint8Array[]> {
      const places = ids.map((id) => tileForNode(id, size));
      const wanted = new Map<string, TileId>();
      for (const p of places) wanted.set(tilePath(p.tile), p.tile);
      // Fetch every needed tile in parallel, once; the tile width is checked against the size.
      const fetched = await Promise.all([...wanted].map(async ([path, tile]) => [path, decodeHashTile(await fetchTile(tile, path), tile.width)] as const));
      const tiles = new Map(fetched);
      return places.map((p) => foldPerfect(tiles.get(tilePath(p.tile))!.slice(p.first, p.first + p.count)));
    },
  };
}
