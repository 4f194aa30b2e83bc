/** Timestamp (TUF 1.0 §4.6) and snapshot (§4.5) metadata: versions (and hashes) of other files. */
import { FormatError } from './errors.js';
import { MetaFile, Signed, parseCommon } from './signed.js';
import type { CommonFields } from './signed.js';
import { expectObject } from './shape.js';
import type { JSONObject } from './shape.js';

function parseMeta(v: unknown): Map<string, MetaFile> {
  const o = expectObject(v, 'signed.meta');
  const meta = new Map<string, MetaFile>();
  for (const name of Object.keys(o)) meta.set(name, MetaFile.fromJSON(o[name], `signed.meta.${name}`));
  return meta;
}

function metaJSON(meta: ReadonlyMap<string, MetaFile>): JSONObject {
  return Object.fromEntries([...meta].map(([n, m]) => [n, m.toJSON()])); // own "__proto__" too
}

export class Timestamp extends Signed {
  readonly type = 'timestamp';
  readonly snapshotMeta: MetaFile;

  constructor(c: CommonFields & { snapshotMeta: MetaFile }) {
    super(c);
    this.snapshotMeta = c.snapshotMeta;
  }

  static fromJSON(json: unknown): Timestamp {
    const o = expectObject(json, 'signed');
    const common = parseCommon(o, 'timestamp', ['meta']);
    const meta = parseMeta(o['meta']);
    const snap = meta.get('snapshot.json');
    // TUF §4.6: timestamp META lists exactly snapshot.json.
    if (snap === undefined || meta.size !== 1) throw new FormatError('signed.meta: timestamp must list exactly snapshot.json');
    return new Timestamp({ ...common, snapshotMeta: snap });
  }

  toJSON(): JSONObject {
    return { ...this.commonJSON(), meta: { 'snapshot.json': this.snapshotMeta.toJSON() } };
  }
}

export class Snapshot extends Signed {
  readonly type = 'snapshot';
  /** "targets.json" and "<delegated role>.json" -> META */
  readonly meta: ReadonlyMap<string, MetaFile>;

  constructor(c: CommonFields & { meta: ReadonlyMap<string, MetaFile> }) {
    super(c);
    this.meta = c.meta;
  }

  static fromJSON(json: unknown): Snapshot {
    const o = expectObject(json, 'signed');
    const common = parseCommon(o, 'snapshot', ['meta']);
    const meta = parseMeta(o['meta']);
    if (!meta.has('targets.json')) throw new FormatError('signed.meta: snapshot must list targets.json');
    return new Snapshot({ ...common, meta });
  }

  toJSON(): JSONObject {
    return { ...this.commonJSON(), meta: metaJSON(this.meta) };
  }
}
