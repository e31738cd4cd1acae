import * as tf from '@tensorflow/tfjs';
import type { NamedGradients } from './optimizers/optimizer.js';

/** Result of {@link clipGradNorm}. */
export interface ClipResult {
  /** Gradients after clipping (new tensors when scaled, otherwise the inputs; the caller disposes both sets). */
  readonly grads: Record<string, tf.Tensor>;
  /** Global L2 norm before clipping (NaN or Infinity when a gradient is not finite). */
  readonly norm: number;
  /** Whether the gradients were scaled. */
  readonly clipped: boolean;
}

/** Global L2 norm of every gradient together, read back to the host. */
export function globalNorm(grads: NamedGradients): number {
  const tensors = Object.values(grads);
  if (tensors.length === 0) return 0;
  const norm = tf.tidy(() => {
    // addN is wrong with ≥ 8 inputs on webgpu (DESIGN.md): sum squares one by one.
    let total = tf.scalar(0);
    for (const g of tensors) total = tf.add(total, tf.sum(tf.square(g)));
    return tf.sqrt(total);
  });
  const value = norm.dataSync()[0] as number;
  norm.dispose();
  return value;
}

/**
 * Clips gradients by their global L2 norm as `torch.nn.utils.clip_grad_norm_`: when the norm
 * exceeds `maxNorm`, every gradient is multiplied by `maxNorm / (norm + 1e-6)`. Returns the
 * pre-clip norm (log it; a non-finite norm means the step must not be applied).
 */
export function clipGradNorm(grads: NamedGradients, maxNorm: number): ClipResult {
  const norm = globalNorm(grads);
  if (!Number.isFinite(norm) || !(maxNorm > 0)) return { grads: { ...grads }, norm, clipped: false };
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { grads: { ...grads }, norm, clipped: false };
  const clipped: Record<string, tf.Tensor> = {};
  const c = Math.fround(coef);
  for (const [name, g] of Object.entries(grads)) clipped[name] = tf.mul(g, c);
  return { grads: clipped, norm, clipped: true };
}

/** True when every value of every gradient is finite (no NaN or ±Infinity). */
export function allFinite(grads: NamedGradients): boolean {
  return Number.isFinite(globalNorm(grads));
}
