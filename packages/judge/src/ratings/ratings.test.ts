import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { playersOf, winTieLoss, type Battle } from './battles.js';
import { bootstrapRatings, quantile } from './bootstrap.js';
import { bradleyTerry } from './bradley-terry.js';
import { computeElo, computeEloOrderAveraged } from './elo.js';

// Written by tools/parity/judge/make_ratings_fixture.py (scipy L-BFGS-B MLE and a plain Elo loop).
const fixture = JSON.parse(readFileSync(new URL('../__fixtures__/ratings.json', import.meta.url), 'utf8')) as {
  battles: Battle[];
  bradleyTerry: Record<string, number>;
  bradleyTerryPrior1: Record<string, number>;
  elo: { k4: Record<string, number>; k32: Record<string, number> };
};

const b = (model1: string, model2: string, winner: Battle['winner']): Battle => ({ model1, model2, winner });

describe('win/tie/loss', () => {
  it('counts from either side', () => {
    const battles = [b('x', 'y', 'model1'), b('y', 'x', 'model1'), b('x', 'y', 'tie'), b('x', 'z', 'model1')];
    expect(winTieLoss(battles, 'x', 'y')).toEqual({ wins: 1, ties: 1, losses: 1 });
    expect(winTieLoss(battles, 'y', 'x')).toEqual({ wins: 1, ties: 1, losses: 1 });
    expect(playersOf(battles)).toEqual(['x', 'y', 'z']);
  });
});

describe('Elo', () => {
  it('hand-checkable: equal ratings, one win with K=4 moves ±2; a tie moves nothing', () => {
    expect(computeElo([b('x', 'y', 'model1')])).toEqual({ x: 1002, y: 998 });
    expect(computeElo([b('x', 'y', 'tie')])).toEqual({ x: 1000, y: 1000 });
    // second battle: E_x = 1/(1+10^(-4/400)), x loses: x = 1002 - 4·E_x
    const ex = 1 / (1 + 10 ** (-4 / 400));
    const r = computeElo([b('x', 'y', 'model1'), b('x', 'y', 'model2')]);
    expect(r['x']).toBeCloseTo(1002 - 4 * ex, 12);
    expect(r['x']! + r['y']!).toBeCloseTo(2000, 12);
  });

  it('matches the independent Python loop on 400 battles (K=4 and K=32)', () => {
    for (const [k, expected] of [
      [4, fixture.elo.k4],
      [32, fixture.elo.k32],
    ] as const) {
      const got = computeElo(fixture.battles, { k });
      for (const [p, r] of Object.entries(expected)) expect(got[p]).toBeCloseTo(r, 9);
    }
  });

  it('order-averaged Elo is deterministic for a seed and keeps the ranking', () => {
    const a = computeEloOrderAveraged(fixture.battles, { permutations: 20, seed: 7 });
    expect(computeEloOrderAveraged(fixture.battles, { permutations: 20, seed: 7 })).toEqual(a);
    const rank = (r: Record<string, number>) =>
      Object.entries(r)
        .sort((x, y) => y[1] - x[1])
        .map(([p]) => p);
    expect(rank(a)).toEqual(rank(fixture.bradleyTerry));
  });
});

describe('Bradley–Terry (MM)', () => {
  it('hand-checkable: 2 wins vs 1 gives strength ratio 2 and a gap of 400·log10 2', () => {
    const r = bradleyTerry([b('x', 'y', 'model1'), b('x', 'y', 'model1'), b('x', 'y', 'model2')]);
    expect(r.strengths['x']! / r.strengths['y']!).toBeCloseTo(2, 10);
    expect(r.ratings['x']! - r.ratings['y']!).toBeCloseTo(400 * Math.log10(2), 8);
    expect(r.ratings['x']! + r.ratings['y']!).toBeCloseTo(2000, 8);
    // a tie is half a win each: 1 win + 1 tie vs 0 wins + 1 tie → ratio 1.5 / 0.5 = 3
    const t = bradleyTerry([b('x', 'y', 'model1'), b('x', 'y', 'tie')]);
    expect(t.strengths['x']! / t.strengths['y']!).toBeCloseTo(3, 10);
  });

  it('matches the scipy maximum-likelihood fit on 400 battles among 5 players', () => {
    const r = bradleyTerry(fixture.battles);
    expect(r.converged).toBe(true);
    for (const [p, rating] of Object.entries(fixture.bradleyTerry)) expect(r.ratings[p]).toBeCloseTo(rating, 5);
    const prior = bradleyTerry(fixture.battles, { priorTies: 1 });
    for (const [p, rating] of Object.entries(fixture.bradleyTerryPrior1)) expect(prior.ratings[p]).toBeCloseTo(rating, 5);
  });

  it('refuses an infinite MLE unless priorTies > 0', () => {
    const sweep = [b('x', 'y', 'model1'), b('x', 'y', 'model1')];
    expect(() => bradleyTerry(sweep)).toThrow(/never loses.*priorTies/);
    // 2 wins + 1 virtual tie: (2.5) / (0.5) = 5
    const r = bradleyTerry(sweep, { priorTies: 1 });
    expect(r.strengths['x']! / r.strengths['y']!).toBeCloseTo(5, 10);
  });
});

describe('bootstrap', () => {
  it('gives seeded percentile intervals around the point estimate', () => {
    const rate = (bs: readonly Battle[]) => bradleyTerry(bs, { priorTies: 1 }).ratings;
    const ci = bootstrapRatings(fixture.battles, rate, { samples: 200, seed: 3 });
    expect(bootstrapRatings(fixture.battles, rate, { samples: 200, seed: 3 })).toEqual(ci);
    for (const [p, { rating, lower, upper }] of Object.entries(ci)) {
      expect(rating).toBeCloseTo(fixture.bradleyTerryPrior1[p]!, 5);
      expect(lower).toBeLessThan(rating);
      expect(upper).toBeGreaterThan(rating);
      expect(upper - lower).toBeLessThan(200);
    }
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([0, 10], 0.025)).toBeCloseTo(0.25, 12);
  });
});
