import { InvalidArgumentError, Rng } from '@lora/core';
import { groupByStratum, largestRemainder, mixSeed, type StratifyBy } from './allocate.js';

/** Counts of one stratum. */
export interface StratumCounts<K extends string> {
  /** The stratum value, as a string. */
  readonly stratum: string;
  /** Records in the stratum. */
  readonly total: number;
  /** Records of the stratum in each split. */
  readonly counts: Readonly<Record<K, number>>;
}

/** Result of {@link stratifiedSplit}. */
export interface SplitResult<T, K extends string> {
  /** Records of each split, in their original order. */
  readonly splits: Readonly<Record<K, T[]>>;
  /** Original indices of each split, ascending. */
  readonly indices: Readonly<Record<K, number[]>>;
  /** Per-stratum counts, strata sorted by name. */
  readonly strata: readonly StratumCounts<K>[];
  /** Records per split. */
  readonly counts: Readonly<Record<K, number>>;
}

/**
 * Deterministic stratified split. Within each stratum the counts are exact by largest
 * remainder (e.g. 26 records at 0.8/0.1/0.1 → 21/3/2), the stratum is shuffled with its own
 * seeded stream (`Rng` seeded from `seed` and the stratum name), and the first records go to the
 * first split, and so on. Every record lands in exactly one split; the same input and seed give
 * the same split on every run and platform.
 *
 * @example
 * ```ts
 * const { splits, strata } = stratifiedSplit(rows, { fractions: { train: 0.8, validation: 0.1, test: 0.1 }, seed: 0, stratifyBy: 'intent' });
 * ```
 */
export function stratifiedSplit<T, K extends string>(
  records: readonly T[],
  options: {
    /** Fraction of each split, summing to 1, e.g. `{ train: 0.8, validation: 0.1, test: 0.1 }`. */
    fractions: Readonly<Record<K, number>>;
    /** Seed of the shuffle inside each stratum. */
    seed: number;
    /** Stratum of each record: a key (`'intent'`; also looked up in `metadata`) or a function. Default: one stratum. */
    stratifyBy?: StratifyBy<T>;
  },
): SplitResult<T, K> {
  const names = Object.keys(options.fractions) as K[];
  const fractions = names.map((n) => options.fractions[n]);
  if (names.length === 0) throw new InvalidArgumentError({ argument: 'fractions', message: 'name at least one split' });
  fractions.forEach((f, i) => {
    if (!Number.isFinite(f) || f < 0) {
      throw new InvalidArgumentError({ argument: `fractions.${names[i]}`, message: `must be a number ≥ 0, got ${f}` });
    }
  });
  const sum = fractions.reduce((a, b) => a + b, 0);
  if (Math.abs(sum - 1) > 1e-6) {
    throw new InvalidArgumentError({
      argument: 'fractions',
      message: `must sum to 1, got ${sum} (${names.map((n, i) => `${n}=${fractions[i]}`).join(', ')})`,
    });
  }
  const indices = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  const strata: StratumCounts<K>[] = [];
  for (const [stratum, members] of groupByStratum(records, options.stratifyBy)) {
    const counts = largestRemainder(members.length, fractions);
    const shuffled = new Rng(mixSeed(options.seed, stratum)).shuffle([...members]);
    let at = 0;
    names.forEach((name, i) => {
      const n = counts[i] as number;
      indices[name].push(...shuffled.slice(at, at + n));
      at += n;
    });
    strata.push({ stratum, total: members.length, counts: Object.fromEntries(names.map((n, i) => [n, counts[i]])) as Record<K, number> });
  }
  for (const name of names) indices[name].sort((a, b) => a - b);
  return {
    splits: Object.fromEntries(names.map((n) => [n, indices[n].map((i) => records[i] as T)])) as Record<K, T[]>,
    indices,
    strata,
    counts: Object.fromEntries(names.map((n) => [n, indices[n].length])) as Record<K, number>,
  };
}
