import { InvalidArgumentError } from '@lora/core';

/** Log-likelihood of one option of a multiple-choice question. */
export interface OptionScore {
  option: string;
  /** Sum of the option's token log-probabilities (natural log). */
  sum: number;
  /** Number of characters (Unicode code points) of the option, the `acc_norm` divisor. */
  chars: number;
  /** Number of tokens of the continuation. */
  tokens: number;
  /** Every token is the arg-max. */
  isGreedy: boolean;
}

/** Outcome of one question. */
export interface McOutcome {
  /** Index with the highest `sum` (`acc`). */
  pred: number;
  /** Index with the highest `sum / chars` (`acc_norm`). */
  predNorm: number;
  acc: number;
  accNorm: number;
  /** Softmax of the sums: the model's probability of each option (the harness' `prob_norm`). */
  probs: number[];
}

function argmax(xs: readonly number[]): number {
  let best = 0;
  xs.forEach((x, i) => {
    if (x > (xs[best] as number)) best = i;
  });
  return best;
}

/** Number of Unicode code points, as Python's `len(str)`. */
export function codePointLength(s: string): number {
  return [...s].length;
}

/**
 * Scores one multiple-choice question as lm-evaluation-harness' `multiple_choice` output type:
 * `acc` compares `argmax(lls)` and `acc_norm` compares `argmax(lls / len(choice))` with the gold
 * index (ties go to the first index, as `np.argmax`).
 */
export function multipleChoiceOutcome(scores: readonly OptionScore[], answer: number): McOutcome {
  if (scores.length === 0) throw new InvalidArgumentError({ argument: 'scores', message: 'a question needs at least one option.' });
  const lls = scores.map((s) => s.sum);
  const pred = argmax(lls);
  const predNorm = argmax(scores.map((s) => s.sum / s.chars));
  const m = Math.max(...lls);
  const e = lls.map((x) => Math.exp(x - m));
  const z = e.reduce((a, x) => a + x, 0);
  return { pred, predNorm, acc: pred === answer ? 1 : 0, accNorm: predNorm === answer ? 1 : 0, probs: e.map((x) => x / z) };
}
