import { stratifiedSplit, type StratumCounts } from '@lora/data';
import type { CarbotExample } from './generate.js';

/** Names of the three splits. */
export type CarbotSplitName = 'train' | 'validation' | 'test';

/** The recipe's split fractions: 80 / 10 / 10. */
export const CARBOT_SPLIT_FRACTIONS: Readonly<Record<CarbotSplitName, number>> = { train: 0.8, validation: 0.1, test: 0.1 };

/** Result of {@link splitCarbotExamples}. */
export interface CarbotSplits {
  /** Examples of each split, in generation order. */
  readonly splits: Readonly<Record<CarbotSplitName, CarbotExample[]>>;
  /** Per-intent counts, intents sorted by name. */
  readonly strata: readonly StratumCounts<CarbotSplitName>[];
  /** Examples per split. */
  readonly counts: Readonly<Record<CarbotSplitName, number>>;
}

/**
 * Splits generated examples 80/10/10 stratified by `intent` with `@lora/data`'s
 * `stratifiedSplit` (exact per-intent counts by largest remainder, seeded shuffle per intent).
 */
export function splitCarbotExamples(examples: readonly CarbotExample[], seed: number): CarbotSplits {
  const { splits, strata, counts } = stratifiedSplit(examples, { fractions: CARBOT_SPLIT_FRACTIONS, seed, stratifyBy: 'intent' });
  return { splits, strata, counts };
}
