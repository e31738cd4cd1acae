import * as tf from '@tensorflow/tfjs';

/**
 * Whether the engine is recording a gradient tape right now (inside `tf.grad`/`tf.variableGrads`
 * and outside any kernel). Layers use it to skip `tf.customGrad` wrappers and gradient-only
 * bookkeeping during inference, where each extra kernel dispatch is pure overhead.
 */
export function isRecordingGradients(): boolean {
  return (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}

/**
 * Whether the current backend runs transposed and batched matmuls (`transposeA/B` flags,
 * `BatchMatMul` over leading axes) at full speed. True on tensorflow (oneDNN/Eigen), webgpu and
 * cpu; false on wasm, whose XNNPACK path covers only flag-free 2-D products and falls back to a
 * naive loop ~10× slower otherwise (DESIGN.md). Layers pick their kernel formulation with it:
 * flag-free 2-D matmuls with materialised transposes (and per-group attention) on wasm, flagged
 * and batched matmuls everywhere else, where materialising a transpose only costs a copy.
 */
export function fastFlaggedMatMul(): boolean {
  return tf.getBackend() !== 'wasm';
}
