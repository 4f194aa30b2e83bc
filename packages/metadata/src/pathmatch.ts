/**
 * Delegation path matching (TUF 1.0 §4.5 "paths"; python-tuf DelegatedRole semantics):
 * pattern and target path are split on "/" and must have the same number of segments; each
 * segment matches shell-style (fnmatch): `*` any run of characters, `?` one character,
 * `[seq]` / `[!seq]` a class. So `*` never crosses a "/". Case-sensitive.
 */
const cache = new Map<string, RegExp>();

/** A literal character, escaped for a "u" RegExp (inside a class "-" needs escaping too). */
const lit = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const litInClass = (c: string): string => (c === '-' ? '\\-' : lit(c));

/**
 * A `[...]` class as CPython's fnmatch.translate reads it: `chars` is the text between the
 * brackets (code points). A leading `!` negates; `x-y` is a range; reversed ranges (`z-a`) are
 * dropped with their end points instead of making the RegExp throw.
 */
function classRegex(chars: readonly string[]): string {
  const negate = chars[0] === '!';
  // Split at range hyphens: a hyphen first (after `!`) or last is literal.
  const chunks: string[][] = [];
  let start = 0;
  let k = negate ? 2 : 1;
  for (;;) {
    k = chars.indexOf('-', k);
    if (k === -1) break;
    chunks.push(chars.slice(start, k));
    start = k + 1;
    k += 3;
  }
  const rest = chars.slice(start);
  if (rest.length > 0) chunks.push(rest);
  else chunks[chunks.length - 1]!.push('-');
  for (let i = chunks.length - 1; i > 0; i--) {
    const prev = chunks[i - 1]!;
    const next = chunks[i]!;
    if (prev[prev.length - 1]!.codePointAt(0)! > next[0]!.codePointAt(0)!) {
      chunks[i - 1] = [...prev.slice(0, -1), ...next.slice(1)];
      chunks.splice(i, 1);
    }
  }
  if (negate) chunks[0]!.shift();
  const body = chunks.map((c) => c.map(litInClass).join('')).join('-');
  if (body === '') return negate ? '[^/]' : '(?!)';
  return `[${negate ? '^' : ''}${body}]`;
}

function segmentRegex(seg: string): string {
  const chars = [...seg];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      // fnmatch: a "]" right after "[" or "[!" is a member, not the end of the class.
      let j = i + 1;
      if (chars[j] === '!') j++;
      if (chars[j] === ']') j++;
      while (j < chars.length && chars[j] !== ']') j++;
      if (j >= chars.length) {
        out += '\\[';
        continue;
      }
      out += classRegex(chars.slice(i + 1, j));
      i = j;
    } else out += lit(c);
  }
  return out;
}

function compile(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (re === undefined) {
    // "u": "?" and classes match code points, as Python's str does.
    re = new RegExp(`^${pattern.split('/').map(segmentRegex).join('/')}$`, 'su');
    if (cache.size > 10_000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

export function matchesPathPattern(targetPath: string, pattern: string): boolean {
  // Segment counts must agree: "*" and "?" never match "/".
  if (targetPath.split('/').length !== pattern.split('/').length) return false;
  return compile(pattern).test(targetPath);
}
