import { describe, expect, it } from 'vitest';
import { Rng } from './rng.js';

describe('Rng', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = new Rng(1);
    const b = new Rng(1);
    const c = new Rng(2);
    const xa = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(xa);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(xa);
  });

  it('restores a saved state exactly', () => {
    const rng = new Rng(7);
    rng.next();
    const state = rng.getState();
    const seq = Array.from({ length: 10 }, () => rng.next());
    rng.setState(state);
    expect(Array.from({ length: 10 }, () => rng.next())).toEqual(seq);
  });

  it('draws uniforms in [0,1) with the right mean and normals with unit variance', () => {
    const rng = new Rng(3);
    const n = 20000;
    let sum = 0;
    let sq = 0;
    let min = 1;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.next();
      min = Math.min(min, u);
      max = Math.max(max, u);
      sum += u;
      const z = rng.normal();
      sq += z * z;
    }
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(sum / n).toBeCloseTo(0.5, 1);
    expect(sq / n).toBeCloseTo(1, 1);
  });

  it('shuffles as a permutation', () => {
    const xs = new Rng(5).shuffle(Array.from({ length: 50 }, (_, i) => i));
    expect([...xs].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(xs).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});
