import { Rng } from '@lora/core';
import type { Battle } from './battles.js';

/** A rating with a bootstrap confidence interval. */
export interface RatingInterval {
  /** Point estimate on all battles. */
  rating: number;
  /** Lower bound of the interval. */
  lower: number;
  /** Upper bound of the interval. */
  upper: number;
}

/**
 * Percentile bootstrap: resamples `battles` with replacement `samples` times (seeded), recomputes
 * `rate` on each resample and returns, per player, the point estimate on all battles and the
 * `(1 ± confidence) / 2` quantiles (linear interpolation) of the resampled ratings.
 */
export function bootstrapRatings(
  battles: readonly Battle[],
  rate: (battles: readonly Battle[]) => Record<string, number>,
  options: {
    /** Resamples (default 1000). */
    samples?: number;
    /** Seed of the {@link Rng} drawing resamples (default 0). */
    seed?: number;
    /** Two-sided confidence level (default 0.95). */
    confidence?: number;
  } = {},
): Record<string, RatingInterval> {
  const samples = options.samples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const rng = new Rng(options.seed ?? 0);
  const point = rate(battles);
  const draws: Record<string, number[]> = {};
  for (const p of Object.keys(point)) draws[p] = [];
  for (let s = 0; s < samples; s++) {
    const resample: Battle[] = [];
    for (let i = 0; i < battles.length; i++) resample.push(battles[rng.nextInt(battles.length)] as Battle);
    const ratings = rate(resample);
    for (const [p, r] of Object.entries(ratings)) (draws[p] ??= []).push(r);
  }
  const out: Record<string, RatingInterval> = {};
  for (const [p, rating] of Object.entries(point)) {
    const sorted = (draws[p] ?? []).sort((x, y) => x - y);
    out[p] = {
      rating,
      lower: quantile(sorted, (1 - confidence) / 2) ?? rating,
      upper: quantile(sorted, 1 - (1 - confidence) / 2) ?? rating,
    };
  }
  return out;
}

/** Quantile `q` of ascending `sorted` values with linear interpolation (numpy's default). */
export function quantile(sorted: readonly number[], q: number): number | undefined {
  if (sorted.length === 0) return undefined;
  const position = (sorted.length - 1) * q;
  const lo = Math.floor(position);
  const hi = Math.ceil(position);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (position - lo);
}
