/**
 * Target search through delegations (TUF 1.0 §5.6.7; Uptane 2.1 §5.4.4.7): pre-order depth-first
 * from top-level targets, each role visited once (cycles are skipped), a terminating delegation
 * ends the search below it, at most `maxDelegations` roles are visited.
 */
import type { Metadata, TargetFile, Targets } from '@reflash/metadata';

/** Loads (verifying) a delegated role; `parent` is its delegator. */
export type RoleLoader = (role: string, parent: string) => Promise<Metadata<Targets>> | Metadata<Targets>;

export interface SearchResult {
  readonly target: TargetFile | undefined;
  /** the role that listed it */
  readonly role: string | undefined;
  /** roles visited, in order */
  readonly visited: readonly string[];
  /** true when the maxDelegations limit stopped the search early */
  readonly limitReached: boolean;
}

export async function findTarget(path: string, load: RoleLoader, maxDelegations: number): Promise<SearchResult> {
  // TUF 5.6.7: start from top-level targets, delegated by root.
  const toVisit: Array<{ role: string; parent: string }> = [{ role: 'targets', parent: 'root' }];
  const visited = new Set<string>();
  const order: string[] = [];
  while (toVisit.length > 0 && visited.size <= maxDelegations) {
    const { role, parent } = toVisit.pop()!;
    // TUF 5.6.7.1: a role already visited is skipped (cycle protection).
    if (visited.has(role)) continue;
    const md = await load(role, parent);
    const hit = md.signed.targets.get(path);
    order.push(role);
    if (hit !== undefined) return { target: hit, role, visited: order, limitReached: false };
    visited.add(role);
    const d = md.signed.delegations;
    if (d === undefined) continue;
    // TUF 5.6.7.2: children in listed order; a terminating match drops everything else queued.
    const children: Array<{ role: string; parent: string }> = [];
    for (const child of d.rolesForTarget(path)) {
      children.push({ role: child.name, parent: role });
      if (child.terminating) {
        toVisit.length = 0;
        break;
      }
    }
    for (let i = children.length - 1; i >= 0; i--) toVisit.push(children[i]!);
  }
  return { target: undefined, role: undefined, visited: order, limitReached: toVisit.length > 0 };
}
