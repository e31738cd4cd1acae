import { InvalidArgumentError } from '@lora/core';
import type { Battle } from './battles.js';
import { playersOf } from './battles.js';

/** Result of {@link bradleyTerry}. */
export interface BradleyTerryResult {
  /** Ratings on the Elo scale: `initial + scale · log_base(p_i)`, with mean `initial`. */
  ratings: Record<string, number>;
  /** Strengths `p_i`, normalised to geometric mean 1. */
  strengths: Record<string, number>;
  /** MM iterations run. */
  iterations: number;
  /** Whether the tolerance was reached. */
  converged: boolean;
}

/**
 * Bradley–Terry strengths by maximum likelihood with the MM (minorization–maximization, Zermelo
 * 1929 / Hunter 2004) iteration `p_i ← W_i / Σ_j n_ij / (p_i + p_j)`, where `n_ij` counts the
 * battles of i and j and `W_i` the wins of i. Ties count as half a win for each side (the
 * likelihood of a tie is then `√(P(i beats j) · P(j beats i))` up to a constant; Davidson's model
 * is not used). The MLE exists only when the win graph is strongly connected: a player with no
 * wins or no losses throws unless `priorTies > 0`.
 *
 * @example
 * ```ts
 * bradleyTerry([{ model1: 'x', model2: 'y', winner: 'model1' }, { model1: 'x', model2: 'y', winner: 'model2' }, { model1: 'x', model2: 'y', winner: 'model1' }]).strengths;
 * // { x: √2, y: 1/√2 }: strength ratio 2 = wins ratio 2:1
 * ```
 */
export function bradleyTerry(
  battles: readonly Battle[],
  options: {
    /**
     * Virtual ties added to every pair that met (default 0, the plain MLE). Each adds half a win
     * to both sides, which keeps ratings finite when a player wins or loses every battle.
     */
    priorTies?: number;
    /** Iteration cap (default 10 000). */
    maxIterations?: number;
    /** Stop when no log-strength moves more than this (default 1e-10). */
    tolerance?: number;
    /** Rating points per factor `base` in strength (default 400). */
    scale?: number;
    /** Base of the rating scale (default 10). */
    base?: number;
    /** Mean rating (default 1000). */
    initial?: number;
  } = {},
): BradleyTerryResult {
  const players = playersOf(battles);
  const n = players.length;
  const index = new Map(players.map((p, i) => [p, i]));
  const games = Array.from({ length: n }, () => new Float64Array(n));
  const wins = new Float64Array(n);
  for (const b of battles) {
    const i = index.get(b.model1) as number;
    const j = index.get(b.model2) as number;
    if (i === j) continue;
    (games[i] as Float64Array)[j]! += 1;
    (games[j] as Float64Array)[i]! += 1;
    if (b.winner === 'model1') wins[i]! += 1;
    else if (b.winner === 'model2') wins[j]! += 1;
    else {
      wins[i]! += 0.5;
      wins[j]! += 0.5;
    }
  }
  const prior = options.priorTies ?? 0;
  if (prior > 0) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        if (i !== j && (games[i] as Float64Array)[j]! > 0) {
          (games[i] as Float64Array)[j]! += prior;
          wins[i]! += prior / 2;
        }
      }
    }
  }
  for (let i = 0; i < n; i++) {
    const total = (games[i] as Float64Array).reduce((s, x) => s + x, 0);
    if (wins[i] === 0 || wins[i] === total) {
      throw new InvalidArgumentError({
        argument: 'battles',
        message: `player \`${players[i]}\` ${wins[i] === 0 ? 'never wins' : 'never loses'}, so the Bradley–Terry MLE is infinite; pass \`priorTies\` > 0`,
      });
    }
  }
  const maxIterations = options.maxIterations ?? 10_000;
  const tolerance = options.tolerance ?? 1e-10;
  let p = new Float64Array(n).fill(1);
  let iterations = 0;
  let converged = n <= 1;
  while (!converged && iterations < maxIterations) {
    iterations++;
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let denominator = 0;
      const row = games[i] as Float64Array;
      for (let j = 0; j < n; j++) if (row[j]! > 0) denominator += row[j]! / (p[i]! + p[j]!);
      next[i] = wins[i]! / denominator;
    }
    let logMean = 0;
    for (let i = 0; i < n; i++) logMean += Math.log(next[i]!) / n;
    let change = 0;
    for (let i = 0; i < n; i++) {
      next[i] = Math.exp(Math.log(next[i]!) - logMean);
      change = Math.max(change, Math.abs(Math.log(next[i]!) - Math.log(p[i]!)));
    }
    p = next;
    converged = change < tolerance;
  }
  const scale = options.scale ?? 400;
  const base = options.base ?? 10;
  const initial = options.initial ?? 1000;
  const ratings: Record<string, number> = {};
  const strengths: Record<string, number> = {};
  players.forEach((player, i) => {
    strengths[player] = p[i]!;
    ratings[player] = initial + (scale * Math.log(p[i]!)) / Math.log(base);
  });
  return { ratings, strengths, iterations, converged };
}
