import { Rng } from '@lora/core';
import type { Battle } from './battles.js';
import { playersOf } from './battles.js';

/** Settings of {@link computeElo}. */
export interface EloOptions {
  /** K factor: the largest change per battle (default 4, as in the Chatbot Arena notebook). */
  k?: number;
  /** Rating difference for 10× odds (default 400). */
  scale?: number;
  /** Base of the odds (default 10). */
  base?: number;
  /** Starting rating (default 1000). */
  initial?: number;
}

/**
 * Sequential Elo over `battles` in the given order: expected score
 * `E₁ = 1 / (1 + base^((R₂ − R₁) / scale))`, actual score 1, ½ (tie) or 0, and
 * `R₁ += k (S₁ − E₁)`, `R₂ −= k (S₁ − E₁)`.
 */
export function computeElo(battles: readonly Battle[], options: EloOptions = {}): Record<string, number> {
  const k = options.k ?? 4;
  const scale = options.scale ?? 400;
  const base = options.base ?? 10;
  const initial = options.initial ?? 1000;
  const ratings: Record<string, number> = {};
  for (const p of playersOf(battles)) ratings[p] = initial;
  for (const b of battles) {
    const r1 = ratings[b.model1] ?? initial;
    const r2 = ratings[b.model2] ?? initial;
    const expected1 = 1 / (1 + base ** ((r2 - r1) / scale));
    const score1 = b.winner === 'model1' ? 1 : b.winner === 'tie' ? 0.5 : 0;
    ratings[b.model1] = r1 + k * (score1 - expected1);
    ratings[b.model2] = r2 - k * (score1 - expected1);
  }
  return ratings;
}

/**
 * Elo averaged over `permutations` seeded random orders of `battles` (sequential Elo depends on
 * the order; averaging removes that arbitrariness). `permutations: 0` uses the given order.
 */
export function computeEloOrderAveraged(
  battles: readonly Battle[],
  options: EloOptions & { permutations?: number; seed?: number } = {},
): Record<string, number> {
  const permutations = options.permutations ?? 100;
  if (permutations <= 0) return computeElo(battles, options);
  const rng = new Rng(options.seed ?? 0);
  const sums: Record<string, number> = {};
  for (let i = 0; i < permutations; i++) {
    const ratings = computeElo(rng.shuffle([...battles]), options);
    for (const [p, r] of Object.entries(ratings)) sums[p] = (sums[p] ?? 0) + r;
  }
  const out: Record<string, number> = {};
  for (const [p, s] of Object.entries(sums)) out[p] = s / permutations;
  return out;
}
