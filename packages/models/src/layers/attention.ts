import * as tf from '@tensorflow/tfjs';

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /** Multiplier of `q·k` (usually `headDim ** -0.5`). */
  scale: number;
  /** Additive mask `[B, 1, T, S]` (see `attentionMask`). */
  mask: tf.Tensor4D;
  /** Gemma soft-capping of scores: `tanh(s / c) * c` before masking. */
  softcap?: number | undefined;
}

/**
 * Grouped-query attention: `q` `[B, H, T, D]`, `k`/`v` `[B, KV, S, D]` with `H` a multiple of
 * `KV`; returns `[B, H, T, D]`. Query head `h` reads key/value head `floor(h / (H / KV))`, as
 * transformers' `repeat_kv` does, but without copying keys: the query heads of a group are folded
 * into the row axis.
 */
export function scaledDotProductAttention(
  q: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  options: AttentionOptions,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, t, d] = q.shape;
    const kv = k.shape[1];
    const s = k.shape[2];
    const rep = h / kv;
    const qg = tf.reshape(q, [b, kv, rep * t, d]);
    let scores = tf.mul(tf.matMul(qg, k, false, true), options.scale);
    if (options.softcap !== undefined) {
      scores = tf.mul(tf.tanh(tf.div(scores, options.softcap)), options.softcap);
    }
    const masked = tf.add(tf.reshape(scores, [b, kv, rep, t, s]), tf.reshape(options.mask, [b, 1, 1, t, s]));
    const probs = tf.reshape(tf.softmax(masked, -1), [b, kv, rep * t, s]);
    return tf.reshape(tf.matMul(probs, v), [b, h, t, d]);
  });
}
