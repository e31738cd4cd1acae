import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@lora/core';
import { customGrad } from '@lora/models/internal';
import { IGNORE_INDEX } from './batch.js';

/** Summed token loss of a micro-batch and the number of tokens it covers. */
export interface TokenLossSum {
  /** Σ −log p(label) over trained tokens (float32 scalar; the caller disposes). */
  readonly sum: tf.Scalar;
  /** Number of trained tokens (labels ≠ -100 after the shift). */
  readonly count: number;
}

/**
 * Number of tokens a causal LM is trained on in `labels` (`[batch, length]` row-major): positions
 * `t ≥ 1` whose label is not -100 (position 0 is never predicted).
 */
export function countTrainedTokens(labels: ArrayLike<number>, shape: readonly [number, number]): number {
  const [b, t] = shape;
  let n = 0;
  for (let r = 0; r < b; r++) for (let i = 1; i < t; i++) if (labels[r * t + i] !== IGNORE_INDEX) n++;
  return n;
}

/**
 * Summed causal-LM cross-entropy: logits at position `t` predict `labels[t + 1]`, labels -100 are
 * ignored, computed in float32 with a log-sum-exp. Divide by a token count yourself — e.g. the
 * count over every micro-batch of an optimizer step (global token normalisation, as transformers
 * does with `num_items_in_batch`).
 *
 * The gradient is written explicitly (`softmax − one-hot` on trained rows): the automatic gradient
 * of `gather` needs `UnsortedSegmentSum`, which the wasm backend lacks.
 *
 * @param logits - `[batch, length, vocab]`.
 * @param labels - `[batch, length]` row-major, -100 where masked (not yet shifted).
 */
export function causalLmLossSum(logits: tf.Tensor3D, labels: ArrayLike<number>): TokenLossSum {
  const [b, t, v] = logits.shape;
  const targets = shiftedTargets(labels, b, t, v);
  const sum = tf.tidy(() => crossEntropySum(tf.reshape(logits, [b * t, v]) as tf.Tensor2D, targets, 0));
  return { sum, count: targets.count };
}

/** Shifted targets of a micro-batch, per row of the flattened `[B·T, vocab]` logits. */
export interface ShiftedTargets {
  /** Target id per row (0 where the row is not trained). */
  readonly targets: Int32Array;
  /** 1 where the row is trained, else 0. */
  readonly weights: Float32Array;
  /** Number of trained rows. */
  readonly count: number;
}

/**
 * Row (r, i) of `[B·T]` predicts `labels[r, i + 1]`; the last column predicts nothing. Refuses
 * labels of the wrong length or outside `[0, vocab)` (other than -100).
 */
export function shiftedTargets(labels: ArrayLike<number>, b: number, t: number, v: number): ShiftedTargets {
  if (labels.length !== b * t) {
    throw new InvalidArgumentError({
      argument: 'labels',
      message: `has ${labels.length} entries; logits [${b}, ${t}, ${v}] need ${b * t} (one per token, -100 where masked).`,
    });
  }
  const targets = new Int32Array(b * t);
  const weights = new Float32Array(b * t);
  let count = 0;
  for (let r = 0; r < b; r++) {
    for (let i = 0; i < t; i++) {
      const row = r * t + i;
      const label = i + 1 < t ? (labels[row + 1] as number) : IGNORE_INDEX;
      if (label === IGNORE_INDEX) continue;
      if (!Number.isInteger(label) || label < 0 || label >= v) {
        throw new InvalidArgumentError({
          argument: 'labels',
          message: `label ${label} at row ${r}, position ${i + 1} is outside the vocabulary [0, ${v}) and is not -100.`,
        });
      }
      targets[row] = label;
      weights[row] = 1;
      count++;
    }
  }
  return { targets, weights, count };
}

/**
 * Σ −log softmax(logits)[target] over the trained rows `start … start + rows` of `targets`, with
 * the gradient written explicitly (`softmax − one-hot` on trained rows): the automatic gradient
 * of `gather` needs `UnsortedSegmentSum`, which the wasm backend lacks. `logits2d` holds exactly
 * those rows.
 */
export function crossEntropySum(logits2d: tf.Tensor2D, all: ShiftedTargets, start: number): tf.Scalar {
  const [n, v] = logits2d.shape;
  const targets = all.targets.subarray(start, start + n);
  const weights = all.weights.subarray(start, start + n);
  if (!weights.some((w) => w !== 0)) return tf.mul(tf.sum(logits2d), 0) as tf.Scalar;
  const flatIndex = new Int32Array(n);
  for (let i = 0; i < n; i++) flatIndex[i] = i * v + (targets[i] as number);
  const ce = customGrad<[tf.Tensor2D], tf.Scalar>((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
    const x32 = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
    const lse = tf.logSumExp(x32, 1);
    const picked = tf.gather(tf.reshape(x32, [-1]), tf.tensor1d(flatIndex, 'int32'));
    const w = tf.tensor1d(weights);
    save([x32, lse, w]);
    return {
      value: tf.sum(tf.mul(tf.sub(lse, picked), w)),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, lseSaved, ws] = saved as [tf.Tensor2D, tf.Tensor1D, tf.Tensor1D];
        const probs = tf.exp(tf.sub(xs, tf.expandDims(lseSaved, 1)));
        const oneHot = tf.oneHot(tf.tensor1d(targets, 'int32'), v);
        const scale = tf.expandDims(tf.mul(ws, dy), 1);
        return tf.mul(tf.sub(probs, oneHot), scale);
      },
    };
  });
  return ce(logits2d);
}

/**
 * Mean causal-LM cross-entropy over trained tokens (labels shifted by one, -100 ignored), i.e.
 * transformers' `ForCausalLMLoss`: the sum divided by the number of trained tokens, not by B×T.
 * Returns 0 (with a zero gradient) when no token is trained.
 *
 * @example
 * ```ts
 * const { value, grads } = tf.variableGrads(() => causalLmLoss(model.forward(ids), batch.labels));
 * ```
 */
export function causalLmLoss(logits: tf.Tensor3D, labels: ArrayLike<number>): tf.Scalar {
  return tf.tidy(() => {
    const { sum, count } = causalLmLossSum(logits, labels);
    return tf.div(sum, Math.max(count, 1)) as tf.Scalar;
  });
}
