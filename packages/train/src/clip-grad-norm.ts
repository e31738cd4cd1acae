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

/** Result of {@link clipGradNormOnDevice}: everything stays on the backend, nothing is read back. */
export interface DeviceClipResult {
  /**
   * Gradients times the clip coefficient: new tensors (the caller disposes them and the inputs),
   * or the inputs themselves when clipping is off (`maxNorm ≤ 0`).
   */
  readonly grads: Record<string, tf.Tensor>;
  /** Global L2 norm before clipping, a scalar tensor (the caller disposes it). */
  readonly norm: tf.Scalar;
}

/**
 * Global L2 norm of every gradient together, as a scalar tensor on the backend (the caller
 * disposes it; 0 for no gradient). Nothing is read back to the host.
 */
export function globalNormTensor(grads: NamedGradients): tf.Scalar {
  const tensors = Object.values(grads);
  return tf.tidy(() => {
    // addN is wrong with ≥ 8 inputs on webgpu (docs/architecture.md): sum squares one by one.
    let total = tf.scalar(0);
    for (const g of tensors) total = tf.add(total, tf.sum(tf.square(g)));
    return tf.sqrt(total);
  });
}

/**
 * Global L2 norm of every gradient together, read back to the host with `await data()` (works on
 * every backend; webgpu has no `dataSync`).
 */
export async function globalNorm(grads: NamedGradients): Promise<number> {
  if (Object.keys(grads).length === 0) return 0;
  const norm = globalNormTensor(grads);
  const value = (await norm.data())[0] as number;
  norm.dispose();
  return value;
}

/**
 * Clips gradients by their global L2 norm as `torch.nn.utils.clip_grad_norm_`: when the norm
 * exceeds `maxNorm`, every gradient is multiplied by `maxNorm / (norm + 1e-6)`. Resolves to the
 * pre-clip norm (log it; a non-finite norm means the step must not be applied). Reads the norm
 * back to the host once; a training loop that must not wait for the device uses
 * {@link clipGradNormOnDevice}.
 */
export async function clipGradNorm(grads: NamedGradients, maxNorm: number): Promise<ClipResult> {
  const norm = await globalNorm(grads);
  if (!Number.isFinite(norm) || !(maxNorm > 0)) return { grads: { ...grads }, norm, clipped: false };
  const coef = maxNorm / (norm + 1e-6);
  if (coef >= 1) return { grads: { ...grads }, norm, clipped: false };
  const clipped: Record<string, tf.Tensor> = {};
  const c = Math.fround(coef);
  for (const [name, g] of Object.entries(grads)) clipped[name] = tf.mul(g, c);
  return { grads: clipped, norm, clipped: true };
}

/**
 * {@link clipGradNorm} without a host round-trip, in `torch.nn.utils.clip_grad_norm_`'s own
 * arithmetic: the norm, `clamp(maxNorm / (norm + 1e-6), max = 1)` and the products are computed
 * in float32 on the backend, and every gradient is multiplied by the coefficient (exactly 1 when
 * the norm is within `maxNorm`). With a non-finite norm the coefficient, and so the gradients, are
 * not finite either: check the norm before applying them. `maxNorm ≤ 0` disables clipping (the
 * input gradients are returned, only the norm is computed).
 */
export function clipGradNormOnDevice(grads: NamedGradients, maxNorm: number): DeviceClipResult {
  const norm = globalNormTensor(grads);
  if (!(maxNorm > 0)) return { grads: { ...grads }, norm };
  const clipped = tf.tidy(() => {
    const coef = tf.minimum(tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6))), tf.scalar(1));
    return Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, tf.mul(g, coef)]));
  });
  return { grads: clipped, norm };
}

/** True when every value of every gradient is finite (no NaN or ±Infinity); reads one scalar back. */
export async function allFinite(grads: NamedGradients): Promise<boolean> {
  return Number.isFinite(await globalNorm(grads));
}
