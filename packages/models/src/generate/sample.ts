import type { Rng } from '@lora/core';

/** Sampling settings (transformers' names): temperature 0 means greedy. */
export interface SamplingOptions {
  /** Softmax temperature; 0 (default) picks the arg-max. */
  temperature?: number;
  /** Keep only the `topK` most likely tokens (0 or undefined: all). */
  topK?: number;
  /** Keep the smallest set of tokens whose probability mass reaches `topP` (1 or undefined: all). */
  topP?: number;
}

/** Index of the largest value (first one on ties, like `torch.argmax`). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

/**
 * Picks the next token from one row of logits: greedy when `temperature` is 0, otherwise
 * temperature → top-k → top-p → sample with `rng`, in transformers' order.
 */
export function sampleToken(logits: ArrayLike<number>, options: SamplingOptions, rng: Rng): number {
  const temperature = options.temperature ?? 0;
  if (temperature <= 0) return argmax(logits);
  const n = logits.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (logits[b] as number) - (logits[a] as number));
  const k = options.topK !== undefined && options.topK > 0 ? Math.min(options.topK, n) : n;
  const kept = order.slice(0, k);
  const max = (logits[kept[0] as number] as number) / temperature;
  const weights = kept.map((i) => Math.exp((logits[i] as number) / temperature - max));
  const total = weights.reduce((a, b) => a + b, 0);
  let count = kept.length;
  const topP = options.topP ?? 1;
  if (topP < 1) {
    // Keep tokens until the cumulative mass reaches top_p (at least one).
    let mass = 0;
    count = 0;
    while (count < kept.length && (count === 0 || mass < topP)) {
      mass += (weights[count] as number) / total;
      count++;
    }
  }
  const mass = weights.slice(0, count).reduce((a, b) => a + b, 0);
  let u = rng.next() * mass;
  for (let i = 0; i < count; i++) {
    u -= weights[i] as number;
    if (u < 0) return kept[i] as number;
  }
  return kept[count - 1] as number;
}
