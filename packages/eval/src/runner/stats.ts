import type { GenerationStats } from './run-generation.js';

/** Percentile with linear interpolation between closest ranks (NumPy's default `linear` method). */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = (q / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (pos - lo);
}

/** Mean / p50 / p95 of `values` (NaN when empty). */
export function summarizeLatency(values: readonly number[]): LatencySummary {
  const mean = values.length === 0 ? Number.NaN : values.reduce((a, x) => a + x, 0) / values.length;
  return { mean, p50: percentile(values, 50), p95: percentile(values, 95), count: values.length };
}

/** Mean, median and 95th percentile of a list of durations. */
export type LatencySummary = GenerationStats['latencyMs'];
