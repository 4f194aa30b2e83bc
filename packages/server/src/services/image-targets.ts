/**
 * Read access to the CURRENT signed Image repository for the Director side (assignments): the
 * newest snapshot (repo 'image', vin '') names the version of every targets role; a target is
 * found by the TUF 1.0 §5.6.7 pre-order delegation search (the same code the vehicle runs,
 * @reflash/verify findTarget), so the Director only assigns what a vehicle will find.
 *
 * The rows were verified when they were uploaded (the Image-repository routes), so they are not
 * re-verified here.
 */
import { Metadata } from '@reflash/metadata';
import type { Snapshot, TargetFile, Targets } from '@reflash/metadata';
import { DEFAULT_LIMITS, findTarget } from '@reflash/verify';
import { ApiError } from '../errors.js';
import type { Tx } from './vehicle-lock.js';

export const IMAGE = 'image';

export interface FoundImageTarget {
  readonly target: TargetFile;
  /** the targets role that lists it */
  readonly role: string;
}

async function imageRow(q: Tx, role: string, version?: number): Promise<Buffer | undefined> {
  let sel = q.selectFrom('repo_metadata').select('bytes').where('repo', '=', IMAGE).where('vin', '=', '').where('role', '=', role);
  sel = version === undefined ? sel.orderBy('version', 'desc').limit(1) : sel.where('version', '=', version);
  return (await sel.executeTakeFirst())?.bytes;
}

/** The newest Image root as JSON, or null before the Image repository is initialised. */
export async function latestImageRoot(q: Tx): Promise<unknown> {
  const bytes = await imageRow(q, 'root');
  return bytes === undefined ? null : JSON.parse(bytes.toString('utf8')) as unknown;
}

/** A view of the current Image repository state: search targets by path. */
export class ImageRepoView {
  readonly #q: Tx;
  readonly #snapshot: Snapshot;
  readonly #roles = new Map<string, Metadata<Targets>>();

  private constructor(q: Tx, snapshot: Snapshot) {
    this.#q = q;
    this.#snapshot = snapshot;
  }

  /** The current state, or ASSIGNMENT_INVALID when nothing has been signed yet. */
  static async load(q: Tx): Promise<ImageRepoView> {
    const bytes = await imageRow(q, 'snapshot');
    if (bytes === undefined) throw new ApiError('ASSIGNMENT_INVALID', 'the Image repository has no signed targets yet');
    return new ImageRepoView(q, Metadata.fromBytes(bytes, 'snapshot').signed);
  }

  async #role(role: string): Promise<Metadata<Targets>> {
    const have = this.#roles.get(role);
    if (have !== undefined) return have;
    const meta = this.#snapshot.meta.get(`${role}.json`);
    const bytes = meta === undefined ? undefined : await imageRow(this.#q, role, meta.version);
    if (meta === undefined || bytes === undefined) {
      throw new ApiError('ASSIGNMENT_INVALID', `Image repository role ${role} is delegated but not published in the current snapshot`);
    }
    const md = Metadata.fromBytes(bytes, 'targets');
    this.#roles.set(role, md);
    return md;
  }

  /** TUF 5.6.7: the target named `path` in the current Image repository, if any. */
  async find(path: string): Promise<FoundImageTarget | undefined> {
    const res = await findTarget(path, (role) => this.#role(role), DEFAULT_LIMITS.maxDelegations);
    return res.target === undefined || res.role === undefined ? undefined : { target: res.target, role: res.role };
  }
}
