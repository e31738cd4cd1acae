import * as tf from '@tensorflow/tfjs';

/** Largest absolute and relative differences between two arrays. */
export interface CloseReport {
  maxAbs: number;
  maxRel: number;
  /** Index of the element with the largest error relative to the tolerance. */
  worst: number;
}

/** Compares element-wise: |a-b| <= atol + rtol*|b|. Returns the error report. */
export function compareArrays(actual: ArrayLike<number>, expected: ArrayLike<number>): CloseReport {
  if (actual.length !== expected.length) {
    throw new Error(`length mismatch: actual ${actual.length}, expected ${expected.length}`);
  }
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const e = expected[i] as number;
    const abs = Math.abs(a - e);
    const rel = abs / Math.max(Math.abs(e), 1e-30);
    if (!(abs <= maxAbs)) {
      maxAbs = abs;
      worst = i;
    }
    if (rel > maxRel && Math.abs(e) > 1e-6) maxRel = rel;
  }
  return { maxAbs, maxRel, worst };
}

function assertClose(a: ArrayLike<number>, e: ArrayLike<number>, rtol: number, atol: number): CloseReport {
  const report = compareArrays(a, e);
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = e[i] as number;
    if (!(Math.abs(x - y) <= atol + rtol * Math.abs(y))) {
      throw new Error(
        `arrays differ at ${i}: actual ${x}, expected ${y} (|diff| ${Math.abs(x - y)}, rtol ${rtol}, atol ${atol}); max abs err ${report.maxAbs}`,
      );
    }
  }
  return report;
}

function readSync(value: ArrayLike<number> | tf.Tensor): ArrayLike<number> {
  if (!(value instanceof tf.Tensor)) return value;
  if (tf.getBackend() === 'webgpu') {
    throw new Error(
      'expectArraysClose reads tensors synchronously (dataSync), which the webgpu backend cannot do in Node: use `await expectTensorsClose(...)`.',
    );
  }
  return value.dataSync();
}

/**
 * Asserts two float arrays are close: |a-b| <= atol + rtol*|b| everywhere (defaults rtol 1e-5,
 * atol 1e-6 for float32). Throws with the worst element on failure; returns the report.
 * Tensors are read with `dataSync`, which throws on webgpu: use {@link expectTensorsClose} there.
 */
export function expectArraysClose(
  actual: ArrayLike<number> | tf.Tensor,
  expected: ArrayLike<number> | tf.Tensor,
  { rtol = 1e-5, atol = 1e-6 }: { rtol?: number; atol?: number } = {},
): CloseReport {
  return assertClose(readSync(actual), readSync(expected), rtol, atol);
}

/**
 * {@link expectArraysClose} that reads tensors asynchronously (`await t.data()`), so it works on
 * every backend, webgpu included. Await it before disposing the tensors.
 */
export async function expectTensorsClose(
  actual: ArrayLike<number> | tf.Tensor,
  expected: ArrayLike<number> | tf.Tensor,
  { rtol = 1e-5, atol = 1e-6 }: { rtol?: number; atol?: number } = {},
): Promise<CloseReport> {
  const [a, e] = await Promise.all([actual, expected].map((v) => (v instanceof tf.Tensor ? v.data() : Promise.resolve(v))));
  return assertClose(a as ArrayLike<number>, e as ArrayLike<number>, rtol, atol);
}
