/**
 * Seeded pseudo-random numbers for the synthetic population. Everything the generator draws comes from here, so
 * the same seed always yields the same bytes: never Math.random() or the clock.
 */

/** cyrb128: a fast 128-bit string hash, used to turn the seed text into PRNG state. */
export function hashSeed(text: string): [number, number, number, number] {
  let h1 = 1779033703;
  let h2 = 3144134277;
  let h3 = 1013904242;
  let h4 = 2773480762;
  for (let i = 0; i < text.length; i++) {
    const k = text.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** splitmix32 finaliser: spreads consecutive integers over the whole 32-bit range. */
function mix32(x: number): number {
  x = (x + 0x9e3779b9) | 0;
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

/** sfc32 (Small Fast Counting, 128-bit state): fast, good quality, no short cycles thanks to its counter. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a >>> 0;
    this.b = b >>> 0;
    this.c = c >>> 0;
    this.d = d >>> 0;
    for (let i = 0; i < 15; i++) this.uint32();
  }

  /** A generator for stream `stream` (e.g. a patient index) of the seed hashed by `hashSeed`. */
  static derive(seed: readonly [number, number, number, number], stream: number): Rng {
    const s = mix32(stream);
    return new Rng(seed[0] ^ s, seed[1] ^ mix32(s), (seed[2] + stream) | 0, seed[3] ^ Math.imul(stream, 0x85ebca6b));
  }

  uint32(): number {
    const a = this.a;
    const b = this.b;
    const c = this.c;
    const d = this.d;
    const t = (((a + b) | 0) + d) | 0;
    this.d = (d + 1) | 0;
    this.a = b ^ (b >>> 9);
    this.b = (c + (c << 3)) | 0;
    const r = (c << 21) | (c >>> 11);
    this.c = (r + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /** Uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Uniform real in [min, max). */
  real(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)] as T;
  }

  /** Picks an item with probability proportional to its weight (weights need not sum to 1). */
  weighted<T>(items: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const item of items) total += item[1];
    let x = this.next() * total;
    for (const item of items) {
      x -= item[1];
      if (x < 0) return item[0];
    }
    return (items[items.length - 1] as readonly [T, number])[0];
  }

  /** Approximately normal (Irwin–Hall sum of four uniforms): no transcendental functions, so exactly portable. */
  normal(mean: number, sd: number): number {
    const s = this.next() + this.next() + this.next() + this.next() - 2;
    return mean + s * sd * 1.7320508075688772;
  }

  /** `digits` random decimal digits. */
  digits(count: number): string {
    let s = '';
    for (let i = 0; i < count; i++) s += String(Math.floor(this.next() * 10));
    return s;
  }

  /** A lower-case hex string of `count` characters. */
  hex(count: number): string {
    let s = '';
    while (s.length < count) s += this.uint32().toString(16).padStart(8, '0');
    return s.slice(0, count);
  }
}
