/**
 * HTTP Range requests for image downloads (RFC 9110 §14): one byte range, `bytes=a-b`,
 * `bytes=a-` or `bytes=-n`. Choices: a header that is not a single valid byte range (another
 * unit, bad syntax, `a > b`, or several ranges) is ignored and the whole image is served (200),
 * as RFC 9110 §14.2 permits; multipart/byteranges responses are not produced. A valid range
 * that starts at or beyond the end (or a zero-length suffix, or any range of an empty image) is
 * unsatisfiable (416).
 */
export type RangeDecision =
  | { readonly kind: 'whole' }
  | { readonly kind: 'partial'; readonly start: number; readonly end: number }
  | { readonly kind: 'unsatisfiable' };

const SPEC = /^bytes=[ \t]*(\d*)-(\d*)[ \t]*$/i;

export function decideRange(header: string | undefined, size: number): RangeDecision {
  if (header === undefined) return { kind: 'whole' };
  const m = SPEC.exec(header.trim());
  if (m === null) return { kind: 'whole' };
  const [, first = '', last = ''] = m;
  if (first === '' && last === '') return { kind: 'whole' };
  if (first === '') {
    // suffix range: the last n bytes
    const n = Number(last);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(first);
  if (last !== '' && Number(last) < start) return { kind: 'whole' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  return { kind: 'partial', start, end };
}
