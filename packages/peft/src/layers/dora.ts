import * as tf from '@tensorflow/tfjs';
import { matMul2d, stopGradient } from './ops.js';

/**
 * DoRA's per-output weight norm `‖W + s·ΔW‖` (PEFT `DoraLinearLayer.get_weight_norm`), with
 * `W` and `ΔW = A B` in our `[in, out]` layout, so the norm runs over axis 0. Detached from the
 * gradient as the DoRA paper (§4.3) and PEFT do.
 */
export function doraWeightNorm(weight: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, scaling: number): tf.Tensor1D {
  return tf.tidy(() => {
    const delta = stopGradient(matMul2d(a, b));
    const combined = tf.add(stopGradient(weight), tf.mul(delta, scaling));
    return stopGradient(tf.sqrt(tf.sum(tf.square(combined), 0)) as tf.Tensor1D);
  });
}

/** Inputs of {@link doraForward}. */
export interface DoraForwardInputs {
  /** Running output (base output plus earlier adapters), `[N, out]`. */
  readonly result: tf.Tensor2D;
  /** Input after dropout, `[N, in]`. */
  readonly x: tf.Tensor2D;
  /** True when dropout changed `x`: the base output is then recomputed on it. */
  readonly dropped: boolean;
  readonly weight: tf.Tensor2D;
  readonly bias: tf.Tensor1D | undefined;
  readonly a: tf.Tensor2D;
  readonly b: tf.Tensor2D;
  readonly magnitude: tf.Tensor1D;
  readonly scaling: number;
}

/**
 * Adds DoRA's contribution to `result`, as PEFT's `DoraLinearLayer.forward`:
 * `result + (m/‖W+sBA‖ − 1) · base + (m/‖W+sBA‖) · s · B(A(x))`, where `base` is `result` minus
 * the base bias (or `x W` when dropout is active).
 */
export function doraForward(inp: DoraForwardInputs): tf.Tensor2D {
  return tf.tidy(() => {
    const norm = doraWeightNorm(inp.weight, inp.a, inp.b, inp.scaling);
    const scale = tf.div(inp.magnitude, norm);
    let base: tf.Tensor2D;
    if (inp.dropped) base = matMul2d(inp.x, inp.weight);
    else base = inp.bias === undefined ? inp.result : tf.sub(inp.result, inp.bias);
    const lora = matMul2d(matMul2d(inp.x, inp.a), inp.b);
    const extra = tf.add(tf.mul(tf.sub(scale, 1), base), tf.mul(tf.mul(scale, lora), inp.scaling));
    return tf.add(inp.result, extra) as tf.Tensor2D;
  });
}
