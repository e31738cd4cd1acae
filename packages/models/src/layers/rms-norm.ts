import * as tf from '@tensorflow/tfjs';
import { ADD_RMS_NORM, inferenceKernel, nativeKernel, RMS_NORM, RMS_NORM_GRAD } from '../backend/native-kernel-names.js';
import { customGrad } from './custom-grad.js';
import { isRecordingGradients } from './tape.js';

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

  /**
   * Normalises `x` of shape `[..., dim]`. While a gradient tape records, the same forward kernels
   * run inside a hand-written gradient, `dx = r · (g − x̂ · mean(g · x̂))` with `g = dy · scale`,
   * `r = rsqrt(mean(x²) + eps)`, `x̂ = x · r`: six kernels where tfjs's chain rule through the mean,
   * rsqrt and broadcasts runs about fifteen. (The scale is frozen: no gradient for it.) On
   * tensorflow with lora_ops.node one native op does each direction (`LoraRmsNorm`, and under a
   * tape `LoraRmsNormGrad`, which recomputes `r` from the saved input).
   */
  apply(x: tf.Tensor): tf.Tensor {
    if (isRecordingGradients()) return nativeKernel(RMS_NORM_GRAD) ? this.nativeWithGradient(x) : this.withGradient(x);
    // Also inside a gradient computation (a checkpointed segment's forward): the same kernel as
    // under the tape, so both give the same values.
    if (nativeKernel(RMS_NORM)) return tf.engine().runKernel(RMS_NORM, { x, scale: this.scale }, { eps: this.eps }) as tf.Tensor;
    return tf.tidy(() => {
      const variance = tf.mean(tf.square(x), -1, true);
      return tf.mul(tf.mul(x, tf.rsqrt(tf.add(variance, this.eps))), this.scale);
    });
  }

  /**
   * `x + delta` and its norm, as one native op (`LoraAddRmsNorm`) outside any gradient computation
   * on tensorflow with lora_ops.node; undefined elsewhere, where the caller adds and normalises.
   */
  addAndApply(x: tf.Tensor, delta: tf.Tensor): { sum: tf.Tensor; normed: tf.Tensor } | undefined {
    if (!inferenceKernel(ADD_RMS_NORM)) return undefined;
    const [sum, normed] = tf.engine().runKernel(ADD_RMS_NORM, { x, delta, scale: this.scale }, { eps: this.eps }) as [tf.Tensor, tf.Tensor];
    return { sum, normed };
  }

  private readonly withGradient = customGrad<[tf.Tensor], tf.Tensor>((x: tf.Tensor, save: tf.GradSaveFunc) => {
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), this.eps));
    const normed = tf.mul(x, r);
    save([normed, r]);
    return {
      value: tf.mul(normed, this.scale),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xhat, rs] = saved as [tf.Tensor, tf.Tensor];
        const g = tf.mul(dy, this.scale);
        return tf.mul(tf.sub(g, tf.mul(xhat, tf.mean(tf.mul(g, xhat), -1, true))), rs);
      },
    };
  });

  private readonly nativeWithGradient = customGrad<[tf.Tensor], tf.Tensor>((x: tf.Tensor, save: tf.GradSaveFunc) => {
    save([x]);
    const attrs = { eps: this.eps };
    return {
      value: tf.engine().runKernel(RMS_NORM, { x, scale: this.scale }, attrs) as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.engine().runKernel(RMS_NORM_GRAD, { x: saved[0] as tf.Tensor, scale: this.scale, dy }, attrs) as tf.Tensor,
    };
  });

  dispose(): void {
    this.scale.dispose();
  }
}
