import * as tf from '@tensorflow/tfjs';
import { customGrad } from './custom-grad.js';

/**
 * Whether the engine is recording a gradient tape right now (inside `tf.grad`/`tf.variableGrads`
 * and outside any kernel). Layers use it to skip `tf.customGrad` wrappers and gradient-only
 * bookkeeping during inference, where each extra kernel dispatch is pure overhead.
 */
export function isRecordingGradients(): boolean {
  return tf.engine().isTapeOn();
}

/**
 * Whether a gradient computation is under way, even where the tape is paused: the forward of a
 * custom-gradient op (e.g. a gradient-checkpointed block) runs off the tape inside one. Layers
 * take their inference-only native kernels (`LoraRmsNorm`, `LoraSiluMul`) only outside, so a
 * training step computes the same values whether or not its blocks are checkpointed.
 */
export function insideGradientComputation(): boolean {
  return tf.engine().state.gradientDepth > 0;
}

/**
 * Whether the current backend runs transposed and batched matmuls (`transposeA/B` flags,
 * `BatchMatMul` over leading axes) at full speed. True on tensorflow (oneDNN/Eigen), webgpu and
 * cpu; false on wasm, whose XNNPACK path covers only flag-free 2-D products and falls back to a
 * naive loop ~10× slower otherwise (docs/architecture.md). Layers pick their kernel formulation with it:
 * flag-free 2-D matmuls with materialised transposes (and per-group attention) on wasm, flagged
 * and batched matmuls everywhere else, where materialising a transpose only costs a copy.
 */
export function fastFlaggedMatMul(): boolean {
  return tf.getBackend() !== 'wasm';
}

function sameShape(a: tf.Tensor, b: tf.Tensor): boolean {
  return a.rank === b.rank && a.shape.every((d, i) => d === b.shape[i]);
}

// `a + b` whose gradient is `[dy, dy]`: nothing is saved for the backward pass. tfjs' own `Add`
// keeps both inputs alive until the backward only to read their shapes for broadcasting.
const addSaveless = customGrad<[tf.Tensor, tf.Tensor], tf.Tensor>((a: tf.Tensor, b: tf.Tensor) => ({
  value: tf.add(a, b),
  gradFunc: (dy: tf.Tensor) => [tf.clone(dy), tf.clone(dy)],
}));

/**
 * `a + b` for tensors of one shape (residual connections, a LoRA update added to the base
 * output). Under a gradient tape it saves no tensor for the backward pass — tfjs' `Add` keeps
 * both inputs until then just to read their shapes, two activations per call, which was ~0.5 GB
 * of a SmolLM2-135M training step's 2.2 GB. Falls back to `tf.add` for broadcasting or outside a
 * tape (inference).
 */
export function addSameShape<T extends tf.Tensor>(a: T, b: tf.Tensor): T {
  if (!isRecordingGradients() || !sameShape(a, b) || a.dtype !== 'float32' || b.dtype !== 'float32') return tf.add(a, b) as T;
  return addSaveless(a, b) as T;
}

/**
 * `a + s·b` for tensors of one shape and a constant `s` (a LoRA update scaled by `alpha / r`).
 * Under a gradient tape it saves nothing (gradients `dy` and `s·dy`), where `tf.add(a, tf.mul(b,
 * s))` keeps `b`, `s·b` and `a` alive until the backward pass.
 */
export function addScaled<T extends tf.Tensor>(a: T, b: tf.Tensor, s: number): T {
  if (s === 1) return addSameShape(a, b);
  if (!isRecordingGradients() || !sameShape(a, b) || a.dtype !== 'float32' || b.dtype !== 'float32') return tf.add(a, tf.mul(b, s)) as T;
  const run = customGrad<[tf.Tensor, tf.Tensor], tf.Tensor>((x: tf.Tensor, y: tf.Tensor) => ({
    value: tf.tidy(() => tf.add(x, tf.mul(y, s))),
    gradFunc: (dy: tf.Tensor) => [tf.clone(dy), tf.mul(dy, s)],
  }));
  return run(a, b) as T;
}
