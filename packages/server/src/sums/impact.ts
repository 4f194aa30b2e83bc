/**
 * Impact of an update package (UN R156 7.1.1.e/f): does it touch a type-approved system (any of
 * its hardware ids is part of a registered RXSWIN definition), and which RXSWINs it leads to
 * (definitions naming one of its {hardwareId, filename} pairs), merged with the impact records
 * an engineer registered for exactly this package (approval reference, declared RXSWINs).
 */
import { canonicalize } from '@reflash/metadata';
import { definitions } from './registry.js';
import type { Q } from './dialect.js';
import type { UpdatePackage } from './types.js';

/** The canonical text of a package (the key impact records are stored under). */
export function packageKey(pkg: UpdatePackage): string {
  return canonicalize(Object.fromEntries(Object.entries(pkg.images).sort(([a], [b]) => (a < b ? -1 : 1))));
}

export async function impactOf(q: Q, pkg: UpdatePackage): Promise<{ touchesTypeApproved: boolean; rxswins: string[] }> {
  const entries = Object.entries(pkg.images);
  const hw = new Set(entries.map(([h]) => h));
  const pairs = new Set(entries.map(([h, f]) => `${h}\n${f}`));
  let touches = false;
  const rxswins = new Set<string>();
  for (const d of await definitions(q)) {
    if (d.software.some((s) => hw.has(s.hardwareId))) touches = true;
    if (d.software.some((s) => pairs.has(`${s.hardwareId}\n${s.filename}`))) rxswins.add(d.rxswin);
  }
  const recorded = await q.selectFrom('sums_impacts').select(['touches_type_approved', 'rxswins']).where('package', '=', packageKey(pkg)).execute();
  for (const r of recorded) {
    if (r.touches_type_approved === 1) touches = true;
    for (const x of JSON.parse(r.rxswins) as string[]) rxswins.add(x);
  }
  return { touchesTypeApproved: touches, rxswins: [...rxswins].sort() };
}
