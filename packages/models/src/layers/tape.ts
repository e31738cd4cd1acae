import * as tf from '@tensorflow/tfjs';

/**
 * Whether the engine is recording a gradient tape right now (inside `tf.grad`/`tf.variableGrads`
 * and outside any kernel). Layers use it to skip `tf.customGrad` wrappers and gradient-only
 * bookkeeping during inference, where each extra kernel dispatch is pure overhead.
 */
export function isRecordingGradients(): boolean {
  return (tf.engine() as unknown as { isTapeOn(): boolean }).isTapeOn();
}
