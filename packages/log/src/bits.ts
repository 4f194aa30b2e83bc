/**
 * Bit arithmetic on tree sizes and indexes up to 2^53 - 1. JavaScript's bitwise operators work
 * on 32 bits only, so everything here uses exact float division by powers of two (exact for
 * safe integers).
 */
const TWO32 = 2 ** 32;

/** True for an integer in [0, 2^53 - 1]. */
export function isUint53(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** x >> k */
export function shr(x: number, k: number): number {
  return Math.floor(x / 2 ** k);
}

/** x << k */
export function shl(x: number, k: number): number {
  return x * 2 ** k;
}

/** Number of bits needed to represent x (0 for 0): Go's bits.Len64. */
export function bitLength(x: number): number {
  let n = 0;
  while (x >= TWO32) {
    x = Math.floor(x / TWO32);
    n += 32;
  }
  return n + 32 - Math.clz32(x);
}

/** Number of trailing zero bits of x > 0: Go's bits.TrailingZeros64. */
export function trailingZeros(x: number): number {
  const lo = x % TWO32;
  if (lo !== 0) return 31 - Math.clz32(lo & -lo);
  const hi = Math.floor(x / TWO32);
  return 32 + 31 - Math.clz32(hi & -hi);
}

/** a XOR b for safe integers. */
export function xor(a: number, b: number): number {
  const hi = (Math.floor(a / TWO32) ^ Math.floor(b / TWO32)) >>> 0;
  const lo = ((a % TWO32) ^ (b % TWO32)) >>> 0;
  return hi * TWO32 + lo;
}

/** Lowest bit of x. */
export function lsb(x: number): boolean {
  return x % 2 === 1;
}

/** True if x is a power of two (x > 0). */
export function isPowerOfTwo(x: number): boolean {
  return x > 0 && x === 2 ** (bitLength(x) - 1);
}

/** Number of set bits. */
export function popCount(x: number): number {
  let n = 0;
  while (x > 0) {
    if (x % 2 === 1) n++;
    x = Math.floor(x / 2);
  }
  return n;
}
