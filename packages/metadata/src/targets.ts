/** Targets metadata (TUF 1.0 §4.5): target files and delegations. */
import { Delegations } from './delegations.js';
import { Signed, parseCommon } from './signed.js';
import type { CommonFields } from './signed.js';
import { TargetFile } from './targetfile.js';
import { expectObject } from './shape.js';
import type { JSONObject } from './shape.js';

export class Targets extends Signed {
  readonly type = 'targets';
  readonly targets: ReadonlyMap<string, TargetFile>;
  readonly delegations: Delegations | undefined;

  constructor(c: CommonFields & { targets: ReadonlyMap<string, TargetFile>; delegations?: Delegations | undefined }) {
    super(c);
    this.targets = c.targets;
    this.delegations = c.delegations;
  }

  /** Linear in the number of targets. */
  static fromJSON(json: unknown): Targets {
    const o = expectObject(json, 'signed');
    const common = parseCommon(o, 'targets', ['targets', 'delegations']);
    const t = expectObject(o['targets'], 'signed.targets');
    const targets = new Map<string, TargetFile>();
    for (const path of Object.keys(t)) targets.set(path, TargetFile.fromJSON(path, t[path]));
    const delegations = o['delegations'] === undefined ? undefined : Delegations.fromJSON(o['delegations']);
    return new Targets({ ...common, targets, delegations });
  }

  toJSON(): JSONObject {
    const targets: JSONObject = Object.fromEntries([...this.targets].map(([p, f]) => [p, f.toJSON()])); // own "__proto__" too
    const out: JSONObject = { ...this.commonJSON(), targets };
    if (this.delegations !== undefined) out['delegations'] = this.delegations.toJSON();
    return out;
  }
}
