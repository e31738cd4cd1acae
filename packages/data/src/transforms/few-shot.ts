import { InvalidArgumentError, Rng } from '@lora/core';
import { groupByStratum, largestRemainder, mixSeed, type StratifyBy } from './allocate.js';

/** Options of {@link takeFewShotPool}. */
export interface FewShotOptions<T> {
  /** Number of examples in the pool. */
  k: number;
  /** Seed of the draw. */
  seed: number;
  /** Draw from each stratum (key or function); default: one stratum. */
  stratifyBy?: StratifyBy<T>;
  /**
   * How `k` is shared among strata: `proportional` to their sizes (largest remainder, default)
   * or `balanced` (as equal as possible, strata in name order get the extra ones; a stratum
   * never gives more than it has).
   */
  allocation?: 'proportional' | 'balanced';
}

/** Result of {@link takeFewShotPool}. */
export interface FewShotResult<T> {
  /** The few-shot examples, in original order. */
  readonly pool: T[];
  /** Everything else (use it as the training split), in original order. */
  readonly rest: T[];
  /** Original indices of the pool, ascending. */
  readonly poolIndices: number[];
  /** Pool examples per stratum, strata sorted by name. */
  readonly strata: readonly { readonly stratum: string; readonly total: number; readonly taken: number }[];
}

/**
 * Draws a fixed few-shot pool of `k` records and removes it from the rest (call it on the
 * training split so prompts never show a record that is also trained on or evaluated).
 * Deterministic in `seed`.
 *
 * @example
 * ```ts
 * const { pool, rest: train } = takeFewShotPool(splits.train, { k: 8, seed: 1, stratifyBy: 'intent', allocation: 'balanced' });
 * ```
 */
export function takeFewShotPool<T>(records: readonly T[], options: FewShotOptions<T>): FewShotResult<T> {
  const { k } = options;
  if (!Number.isInteger(k) || k < 0 || k > records.length) {
    throw new InvalidArgumentError({
      argument: 'k',
      message: `must be an integer in 0..${records.length} (the number of records), got ${k}`,
    });
  }
  const groups = [...groupByStratum(records, options.stratifyBy)];
  const sizes = groups.map(([, members]) => members.length);
  const quotas = options.allocation === 'balanced' ? balanced(k, sizes) : largestRemainder(k, sizes);
  const taken = new Set<number>();
  const strata = groups.map(([stratum, members], i) => {
    const n = quotas[i] as number;
    for (const index of new Rng(mixSeed(options.seed, `few-shot:${stratum}`)).shuffle([...members]).slice(0, n)) taken.add(index);
    return { stratum, total: members.length, taken: n };
  });
  const poolIndices = [...taken].sort((a, b) => a - b);
  return {
    pool: poolIndices.map((i) => records[i] as T),
    rest: records.filter((_, i) => !taken.has(i)),
    poolIndices,
    strata,
  };
}

function balanced(k: number, sizes: readonly number[]): number[] {
  const counts = sizes.map(() => 0);
  let left = k;
  while (left > 0) {
    let gave = false;
    for (let i = 0; i < sizes.length && left > 0; i++) {
      if ((counts[i] as number) < (sizes[i] as number)) {
        counts[i] = (counts[i] as number) + 1;
        left -= 1;
        gave = true;
      }
    }
    if (!gave) break;
  }
  return counts;
}
