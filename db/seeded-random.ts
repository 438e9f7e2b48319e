// A seeded pseudo-random stream (mulberry32): demo data, benchmarks and tests repeat exactly for a given seed.
export type Rng = () => number;

/** Tiny, fast and good enough for generated data; the same seed always gives the same stream in [0, 1). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
