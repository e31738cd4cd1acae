import { customGrad, fastFlaggedMatMul } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';

/**
 * `x @ w` for 2-D tensors with an explicit gradient that, on wasm, materialises the transposes
 * instead of using `transposeA/B` flags (the flagged matmul is ~10× slower there; docs/architecture.md) and
 * uses the flags on every other backend (`fastFlaggedMatMul`).
 */
export const matMul2d = customGrad<[tf.Tensor2D, tf.Tensor2D], tf.Tensor2D>((x: tf.Tensor2D, w: tf.Tensor2D, save: tf.GradSaveFunc) => {
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

/** Identity whose gradient is zero (PyTorch's `.detach()` inside a differentiated function). */
export const stopGradient = customGrad<[tf.Tensor], tf.Tensor>((x) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as <T extends tf.Tensor>(x: T) => T;
