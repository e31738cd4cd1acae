import { InvalidArgumentError } from '@lora/core';
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../architectures/causal-lm.js';

/**
 * Scores continuations given prompts with one forward per batch (right-padded: causal attention
 * never lets a real token see the padding, so no mask is needed).
 *
 * @example
 * ```ts
 * const [a, b] = await scoreContinuations(model, [
 *   { prompt: q, continuation: optionA },
 *   { prompt: q, continuation: optionB },
 * ]);
 * const best = a.sum > b.sum ? 'A' : 'B';
 * ```
 */
export async function scoreContinuations(
  model: CausalLM,
  /** Continuations to score after their prompts (token ids). */
  requests: readonly {
    prompt: readonly number[];
    continuation: readonly number[];
  }[],
  options: { batchSize?: number } = {},
): Promise<
  {
    /** `log p(continuation[i] | prompt, continuation[:i])`, natural log. */
    tokenLogProbs: number[];
    /** Sum over the continuation (lm-evaluation-harness' `acc` ranks by this). */
    sum: number;
    /** Mean over the continuation tokens. */
    mean: number;
    /** True when every continuation token is the arg-max (lm-evaluation-harness' `is_greedy`). */
    isGreedy: boolean;
  }[]
> {
  const batchSize = options.batchSize ?? 8;
  requests.forEach((r, i) => {
    if (r.prompt.length === 0)
      throw new InvalidArgumentError({ argument: `requests[${i}].prompt`, message: 'must hold at least one token (e.g. BOS).' });
    if (r.continuation.length === 0)
      throw new InvalidArgumentError({ argument: `requests[${i}].continuation`, message: 'must hold at least one token.' });
  });
  const results: ScoreResult[] = [];
  for (let start = 0; start < requests.length; start += batchSize) {
    results.push(...(await scoreBatch(model, requests.slice(start, start + batchSize))));
  }
  return results;
}

async function scoreBatch(model: CausalLM, batch: readonly ScoreRequest[]): Promise<ScoreResult[]> {
  const inputs = batch.map((r) => [...r.prompt, ...r.continuation].slice(0, -1));
  const width = Math.max(...inputs.map((x) => x.length));
  const b = batch.length;
  const ids = new Int32Array(b * width);
  const targets = new Int32Array(b * width);
  batch.forEach((r, row) => {
    const full = [...r.prompt, ...r.continuation];
    for (let t = 0; t < full.length - 1; t++) {
      ids[row * width + t] = full[t] as number;
      targets[row * width + t] = full[t + 1] as number;
    }
  });
  const vocab = model.config.vocabSize;
  const [picked, best] = tf.tidy(() => {
    const logits = model.forward(tf.tensor2d(ids, [b, width], 'int32'));
    const logProbs = tf.reshape(tf.logSoftmax(logits, -1), [-1]);
    const flatIndex = tf.add(tf.mul(tf.range(0, b * width, 1, 'int32'), tf.scalar(vocab, 'int32')), tf.tensor1d(targets, 'int32'));
    return [tf.gather(logProbs, flatIndex), tf.argMax(tf.reshape(logits, [b * width, vocab]), -1)];
  });
  const [lp, am] = await Promise.all([picked.data(), best.data()]);
  picked.dispose();
  best.dispose();
  return batch.map((r, row) => {
    const first = r.prompt.length - 1;
    const tokenLogProbs: number[] = [];
    let isGreedy = true;
    for (let i = 0; i < r.continuation.length; i++) {
      const at = row * width + first + i;
      tokenLogProbs.push(lp[at] as number);
      if (am[at] !== r.continuation[i]) isGreedy = false;
    }
    const sum = tokenLogProbs.reduce((a, x) => a + x, 0);
    return { tokenLogProbs, sum, mean: sum / tokenLogProbs.length, isGreedy };
  });
}

/** A continuation to score after a prompt (token ids). */
export type ScoreRequest = Parameters<typeof scoreContinuations>[1][number];

/** Log-probabilities of a continuation's tokens. */
export type ScoreResult = Awaited<ReturnType<typeof scoreContinuations>>[number];
