import * as tf from '@tensorflow/tfjs';
import { LoraError } from '@lora/core';

// Small fixed operands; the expected values are computed below in float64 from the definitions.
const X = [
  [0.5, -1, 2],
  [1.5, 0.25, -0.75],
];
const W = [
  [1, -2],
  [0.5, 0.75],
  [-1.25, 2],
];

function matMul(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number[][] {
  return a.map((row) => (b[0] ?? []).map((_, j) => row.reduce((s, v, k) => s + v * (b[k]?.[j] ?? NaN), 0)));
}

function transpose(a: readonly (readonly number[])[]): number[][] {
  return (a[0] ?? []).map((_, j) => a.map((row) => row[j] ?? NaN));
}

function scale(a: readonly (readonly number[])[], s: number): number[][] {
  return a.map((row) => row.map((v) => v * s));
}

/** Expected results of the smoke test: y = X·W and the gradients of sum((X·W)²). */
function expected(): { y: number[]; dx: number[]; dw: number[] } {
  const y = matMul(X, W);
  return {
    y: y.flat(),
    dx: scale(matMul(y, transpose(W)), 2).flat(),
    dw: scale(matMul(transpose(X), y), 2).flat(),
  };
}

function check(stage: string, backend: string, actual: ArrayLike<number>, wanted: readonly number[], rtol: number): void {
  const bad: string[] = [];
  if (actual.length !== wanted.length) {
    throw new LoraError(`Backend "${backend}" failed its smoke test (${stage}): got ${actual.length} values, expected ${wanted.length}.`);
  }
  for (let i = 0; i < wanted.length; i++) {
    const a = actual[i] as number;
    const e = wanted[i] as number;
    if (!(Math.abs(a - e) <= 1e-6 + rtol * Math.abs(e))) bad.push(`[${i}] ${a} != ${e}`);
  }
  if (bad.length > 0) {
    throw new LoraError(`Backend "${backend}" failed its smoke test (${stage}): ${bad.slice(0, 3).join(', ')}.`);
  }
}

/**
 * Checks that the active tfjs backend computes one matmul and one gradient correctly: `y = X·W`
 * and the gradients of `sum(y²)` with respect to both operands (which use transposed matmuls),
 * compared with float64 values computed from the definition. Reads results asynchronously, so it
 * also works on backends whose `dataSync` throws (WebGPU in Node). Leaves no tensors behind.
 *
 * @param rtol - relative tolerance (default 1e-4: float32 with fused GPU arithmetic).
 * @throws {@link LoraError} naming the backend, the stage (`matmul`, `gradient`) and the first
 *   wrong values, or the error a missing kernel raised.
 */
export async function smokeTestBackend({ rtol = 1e-4 }: { rtol?: number } = {}): Promise<void> {
  const backend = tf.getBackend();
  const want = expected();
  const run = async (stage: string, compute: () => tf.Tensor[]): Promise<Float32Array[]> => {
    let tensors: tf.Tensor[] = [];
    try {
      tensors = tf.tidy(compute);
      return (await Promise.all(tensors.map((t) => t.data()))) as Float32Array[];
    } catch (error) {
      if (LoraError.isInstance(error)) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new LoraError(`Backend "${backend}" failed its smoke test (${stage}): ${reason}`, { cause: error });
    } finally {
      for (const t of tensors) t.dispose();
    }
  };
  const [y] = await run('matmul', () => [tf.matMul(tf.tensor2d(X), tf.tensor2d(W))]);
  check('matmul', backend, y ?? [], want.y, rtol);
  const [dx, dw] = await run('gradient', () => {
    const f = (x: tf.Tensor, w: tf.Tensor): tf.Tensor => tf.sum(tf.square(tf.matMul(x, w)));
    return tf.grads(f)([tf.tensor2d(X), tf.tensor2d(W)]);
  });
  check('gradient dX', backend, dx ?? [], want.dx, rtol);
  check('gradient dW', backend, dw ?? [], want.dw, rtol);
}
