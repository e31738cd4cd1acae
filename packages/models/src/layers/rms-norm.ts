import * as tf from '@tensorflow/tfjs';

/**
 * Root-mean-square layer norm over the last axis: `x * rsqrt(mean(x²) + eps) * scale`.
 *
 * Llama, Mistral and Qwen3 scale by `weight`; Gemma scales by `(1 + weight)` — pass
 * `offset: 1`, and the sum is formed once in float32 at load, as the reference does per call.
 */
export class RMSNorm {
  private readonly scale: tf.Tensor1D;

  constructor(
    weight: Float32Array,
    readonly eps: number,
    options: { offset?: number } = {},
  ) {
    const offset = options.offset ?? 0;
    const scale = offset === 0 ? weight : weight.map((w) => Math.fround(offset + w));
    this.scale = tf.tensor1d(scale);
  }

  /** Normalises `x` of shape `[..., dim]`. */
  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const variance = tf.mean(tf.square(x), -1, true);
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, this.eps))), this.scale);
    });
  }

  dispose(): void {
    this.scale.dispose();
  }
}
