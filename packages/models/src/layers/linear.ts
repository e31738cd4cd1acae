import * as tf from '@tensorflow/tfjs';
import { customGrad } from './custom-grad.js';
import { fastFlaggedMatMul, isRecordingGradients } from './tape.js';

/**
 * A linear layer as the decoders see it: `y = x W + b` over the last axis. Decoders hold every
 * projection through this interface, so `@lora/quant` (NF4 base layers) and `@lora/peft` (LoRA
 * wrappers) can replace a module in place.
 */
export interface LinearLike {
  /** Input features (last axis of `x`). */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Applies the layer to `x` of shape `[..., inFeatures]`, returning `[..., outFeatures]`. */
  apply(x: tf.Tensor): tf.Tensor;
  /** Variables this module trains (empty for a frozen base layer). */
  trainableVariables(): tf.Variable[];
  /** The effective weight as a dense float32 `[inFeatures, outFeatures]` tensor (caller disposes). */
  denseWeight(): tf.Tensor2D;
  /** The bias `[outFeatures]`, if any (owned by the module; do not dispose). */
  readonly bias: tf.Tensor1D | undefined;
  /** Frees the module's tensors. */
  dispose(): void;
}

/** Options of {@link Linear}. */
export interface LinearOptions {
  /** Bias `[outFeatures]`. */
  bias?: tf.Tensor1D;
  /** Make the weight (and bias) trainable variables (full fine-tuning); default frozen. */
  trainable?: boolean;
  /** Name prefix of the variables (the module path). */
  name?: string;
}

/**
 * Dense linear layer with its weight stored as `[in, out]`.
 *
 * The forward is a flag-free 2-D matmul and the gradient is written explicitly: on wasm with the
 * transposes materialised (no `transposeA/B` flags — its flagged matmul falls back to a naive loop
 * ~10× slower, docs/architecture.md), elsewhere with the flags, which cost nothing there (see
 * `fastFlaggedMatMul`). A frozen layer passes gradients to its input only.
 */
export class Linear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: tf.Tensor1D | undefined;
  /** The weight `[in, out]` (a variable when trainable). */
  readonly weight: tf.Tensor2D;
  private readonly trainable: boolean;
  private readonly frozenMatMul: (x: tf.Tensor2D) => tf.Tensor2D;

  /**
   * @param weight - `[in, out]` (already transposed from PyTorch's `[out, in]`); the layer takes ownership.
   */
  constructor(weight: tf.Tensor2D, options: LinearOptions = {}) {
    const [inFeatures, outFeatures] = weight.shape;
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.trainable = options.trainable ?? false;
    const name = options.name ?? 'linear';
    this.weight = this.trainable ? tf.variable(weight, true, `${name}.weight`) : weight;
    if (this.trainable && weight !== this.weight) weight.dispose();
    this.bias = options.bias !== undefined && this.trainable ? tf.variable(options.bias, true, `${name}.bias`) : options.bias;
    const w = this.weight;
    this.frozenMatMul = customGrad<[tf.Tensor2D], tf.Tensor2D>((x: tf.Tensor2D) => ({
      value: tf.matMul(x, w),
      gradFunc: (dy: tf.Tensor2D) => (fastFlaggedMatMul() ? tf.matMul(dy, w, false, true) : tf.matMul(dy, tf.transpose(w))),
    }));
  }

  /** Builds a frozen layer from a PyTorch-layout `[out, in]` host array. */
  static fromTorch(data: Float32Array, outFeatures: number, inFeatures: number, options: LinearOptions = {}): Linear {
    return new Linear(tf.tensor2d(transposeHost(data, outFeatures, inFeatures), [inFeatures, outFeatures]), options);
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      // Rank-2 inputs (the decoders' flattened hidden states) need no reshapes, and without a
      // gradient tape the custom-gradient wrappers are skipped: both are pure dispatch overhead.
      const flat = x.rank === 2;
      const x2 = (flat ? x : x.reshape([-1, this.inFeatures])) as tf.Tensor2D;
      let y: tf.Tensor2D;
      if (!isRecordingGradients()) y = tf.matMul(x2, this.weight);
      else y = this.trainable ? trainableMatMul(x2, this.weight) : this.frozenMatMul(x2);
      if (this.bias !== undefined) y = tf.add(y, this.bias);
      return flat ? y : y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  trainableVariables(): tf.Variable[] {
    if (!this.trainable) return [];
    const vars = [this.weight as tf.Variable];
    if (this.bias !== undefined) vars.push(this.bias as tf.Variable);
    return vars;
  }

  denseWeight(): tf.Tensor2D {
    return this.weight.clone();
  }

  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }
}

/** `x @ w` with explicit, flag-free gradients for both inputs. */
const trainableMatMul = customGrad<[tf.Tensor2D, tf.Tensor2D], tf.Tensor2D>((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
  save([x, w]);
  return {
    value: tf.matMul(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const g = dy as tf.Tensor2D;
      if (fastFlaggedMatMul()) return [tf.matMul(g, ws, false, true), tf.matMul(xs, g, true, false)];
      return [tf.matMul(g, tf.transpose(ws)), tf.matMul(tf.transpose(xs), g)];
    },
  };
});

/** Transposes a row-major `[rows, cols]` host matrix into `[cols, rows]`. */
export function transposeHost(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[base + c] as number;
  }
  return out;
}
