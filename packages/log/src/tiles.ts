/**
 * c2sp.org/tlog-tiles: tile and entry-bundle paths, which tiles a tree size has, hash-tile and
 * entry-bundle encodings. A tile at level L, index N holds the hashes of tree nodes at level
 * 8L, indexes N*256 .. N*256+W-1 (W = 256 for a full tile).
 */
import { LogFormatError, LogUsageError } from './errors.js';
import { HASH_SIZE } from './hash.js';
import { MAX_ENTRY_BYTES, MAX_TREE_SIZE, TILE_HEIGHT, TILE_WIDTH } from './limits.js';
import type { NodeId } from './node-id.js';

export interface TileId {
  /** Tile level L (0 = leaf hashes), 0..63. */
  readonly level: number;
  /** Tile index N within the level. */
  readonly index: number;
  /** Number of hashes (1..256); 256 is a full tile. */
  readonly width: number;
}

function bad(message: string): never {
  throw new LogFormatError('LOG_MALFORMED_TILE', message);
}

function checkIndex(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new LogUsageError(`tile index ${String(n)} is not a non-negative integer`);
}

/** "<N> ... zero-padded 3-digit path elements. All but the last ... begin with an x". */
export function tileIndexPath(n: number): string {
  checkIndex(n);
  const groups: string[] = [];
  let rest = n;
  do {
    groups.unshift(String(rest % 1000).padStart(3, '0'));
    rest = Math.floor(rest / 1000);
  } while (rest > 0);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join('/');
}

function widthSuffix(width: number): string {
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) throw new LogUsageError(`tile width ${width} not in 1..256`);
  return width === TILE_WIDTH ? '' : `.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]` */
export function tilePath(tile: TileId): string {
  if (!Number.isInteger(tile.level) || tile.level < 0 || tile.level > 63) throw new LogUsageError(`tile level ${tile.level} not in 0..63`);
  return `tile/${tile.level}/${tileIndexPath(tile.index)}${widthSuffix(tile.width)}`;
}

/** `tile/entries/<N>[.p/<W>]` */
export function entryBundlePath(index: number, width: number = TILE_WIDTH): string {
  return `tile/entries/${tileIndexPath(index)}${widthSuffix(width)}`;
}

/** Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]` (level -1 for entries). */
export function parseTilePath(path: string): TileId {
  const m = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/.exec(path);
  if (m === null) bad(`not a tile path: ${path}`);
  const level = m[1] === 'entries' ? -1 : Number(m[1]);
  if (level > 63) bad('tile level above 63');
  const index = Number(m[2]!.replace(/[x/]/g, ''));
  // Canonical: no leading zero groups ("x000/001" is not the encoding of 1).
  if (!Number.isSafeInteger(index) || tileIndexPath(index) !== m[2]) bad('tile index is not canonical');
  if (m[3] === undefined) return { level, index, width: TILE_WIDTH };
  const width = Number(m[3]);
  if (width >= TILE_WIDTH) bad('partial tile width not in 1..255');
  return { level, index, width };
}

export interface LevelTiles {
  readonly level: number;
  /** Number of full tiles at this level. */
  readonly fullTiles: number;
  /** Width of the partial tile after them, 0 if none. */
  readonly partialWidth: number;
}

/**
 * "Partial Tiles": the tiles of a tree of `size` leaves, per level. Level l has
 * floor(size / 256^(l+1)) full tiles and a partial tile of floor(size / 256^l) mod 256 hashes.
 */
export function tilesForSize(size: number): LevelTiles[] {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_TREE_SIZE) throw new LogUsageError('tree size out of range');
  const out: LevelTiles[] = [];
  for (let l = 0, n = size; n > 0; l++, n = Math.floor(n / TILE_WIDTH)) {
    out.push({ level: l, fullTiles: Math.floor(n / TILE_WIDTH), partialWidth: n % TILE_WIDTH });
  }
  return out;
}

/**
 * The tile holding the hashes needed for node `id` of a tree of `size` leaves: the node is
 * stored in the tile if its level is a multiple of 8, else rebuilt from 2^(level mod 8)
 * hashes of the tile below it. Returns the tile (partial if the tree ends inside it) and the
 * range [first, first + count) of hashes within the tile that fold into the node.
 */
export function tileForNode(id: NodeId, size: number): { tile: TileId; first: number; count: number } {
  const tileLevel = Math.floor(id.level / TILE_HEIGHT);
  const height = id.level % TILE_HEIGHT;
  const first = id.index * 2 ** height; // index of the first covered hash at level 8 * tileLevel
  const index = Math.floor(first / TILE_WIDTH);
  const hashesAtLevel = Math.floor(size / TILE_WIDTH ** tileLevel);
  const width = Math.min(TILE_WIDTH, hashesAtLevel - index * TILE_WIDTH);
  if (width < (first % TILE_WIDTH) + 2 ** height) throw new LogUsageError(`node (${id.level}, ${id.index}) is not complete at size ${size}`);
  return { tile: { level: tileLevel, index, width }, first: first % TILE_WIDTH, count: 2 ** height };
}

/** The node ids whose hashes make up a tile (level 8L, consecutive indexes). */
export function tileNodeIds(tile: TileId): NodeId[] {
  return Array.from({ length: tile.width }, (_, i) => ({ level: tile.level * TILE_HEIGHT, index: tile.index * TILE_WIDTH + i }));
}

/** Hash tile content: the concatenated 32-byte hashes. */
export function encodeHashTile(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length < 1 || hashes.length > TILE_WIDTH) throw new LogUsageError('a tile holds 1..256 hashes');
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  hashes.forEach((h, i) => {
    if (h.length !== HASH_SIZE) throw new LogUsageError('tile hash is not 32 bytes');
    out.set(h, i * HASH_SIZE);
  });
  return out;
}

/** Splits hash tile content; `width` (if given) must match exactly. */
export function decodeHashTile(data: Uint8Array, width?: number): Uint8Array[] {
  if (data.length === 0 || data.length % HASH_SIZE !== 0 || data.length > TILE_WIDTH * HASH_SIZE) bad('tile size is not 1..256 hashes');
  if (width !== undefined && data.length !== width * HASH_SIZE) bad(`tile has ${data.length / HASH_SIZE} hashes, expected ${width}`);
  return Array.from({ length: data.length / HASH_SIZE }, (_, i) => data.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
}

/** Entry bundle: each entry as big-endian uint16 length || bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (entries.length < 1 || entries.length > TILE_WIDTH) throw new LogUsageError('a bundle holds 1..256 entries');
  let n = 0;
  for (const e of entries) {
    if (e.length > MAX_ENTRY_BYTES) throw new LogUsageError('entry longer than 65535 bytes');
    n += 2 + e.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const e of entries) {
    out[off] = e.length >> 8;
    out[off + 1] = e.length & 0xff;
    out.set(e, off + 2);
    off += 2 + e.length;
  }
  return out;
}

/** Parses an entry bundle; `width` (if given) must match the entry count exactly. */
export function decodeEntryBundle(data: Uint8Array, width?: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let off = 0;
  while (off < data.length) {
    if (out.length === TILE_WIDTH) bad('entry bundle has more than 256 entries');
    if (off + 2 > data.length) bad('entry bundle truncated in a length prefix');
    const len = (data[off]! << 8) | data[off + 1]!;
    if (off + 2 + len > data.length) bad('entry bundle truncated in an entry');
    out.push(data.slice(off + 2, off + 2 + len));
    off += 2 + len;
  }
  if (out.length === 0) bad('entry bundle is empty');
  if (width !== undefined && out.length !== width) bad(`entry bundle has ${out.length} entries, expected ${width}`);
  return out;
}
