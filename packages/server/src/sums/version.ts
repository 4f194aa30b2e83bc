/**
 * Software versions in the SUMS catalogue: dotted numbers (`2`, `2.1`, `2.1.10`, at most four
 * components). `versionKey` makes them comparable as text in SQL: each component zero-padded to
 * 9 digits, missing components count as 0 (`2.1` = `2.1.0`).
 */
export const VERSION_PATTERN = '^[0-9]{1,9}(\\.[0-9]{1,9}){0,3}$';
const RE = new RegExp(VERSION_PATTERN);

export function isVersion(v: string): boolean {
  return RE.test(v);
}

export function versionKey(v: string): string {
  if (!RE.test(v)) throw new RangeError(`not a dotted numeric version: ${v}`);
  const parts = v.split('.').map((p) => p.padStart(9, '0'));
  while (parts.length < 4) parts.push('0'.repeat(9));
  return parts.join('.');
}
