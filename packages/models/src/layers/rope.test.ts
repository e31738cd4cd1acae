import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectTensorsClose, setupTestBackend } from '../test/index.js';
import type { RopeConfig } from '../config/model-config.js';
import {
  applyRope,
  ropeAttentionScaling,
  ropeDependsOnLength,
  ropeInverseFrequencies,
  ropeTablesForPositions,
  ropeTablesForRange,
  rotateHalfMatrix,
} from './rope.js';

beforeAll(async () => {
  await setupTestBackend();
});

/** transformers' `q * cos + rotate_half(q) * sin` with `rotate_half(x) = cat(-x2, x1)`, tables from position ids. */
function reference(x: tf.Tensor4D, invFreq: tf.Tensor1D, positions: number[]): tf.Tensor4D {
  return tf.tidy(() => {
    const freqs = tf.mul(tf.reshape(tf.tensor1d(positions, 'float32'), [-1, 1]), tf.reshape(invFreq, [1, -1]));
    const emb = tf.reshape(tf.concat([freqs, freqs], -1), [1, 1, positions.length, -1]);
    const half = x.shape[3] / 2;
    const [x1, x2] = tf.split(x, [half, half], -1);
    return tf.add(tf.mul(x, tf.cos(emb)), tf.mul(tf.concat([tf.neg(x2 as tf.Tensor), x1 as tf.Tensor], -1), tf.sin(emb)));
  });
}

describe('applyRope', () => {
  it.each([1, 3, 20])('equals the rotate_half formula bit for bit (T = %i), with and without a gradient tape', async (t) => {
    const d = 16;
    const invFreq = tf.tensor1d(Float32Array.from({ length: d / 2 }, (_, i) => Math.fround(1 / 10000 ** ((2 * i) / d))));
    const positions = Array.from({ length: t }, (_, i) => 5 + 3 * i);
    const x = tf.randomNormal([2, 3, t, d], 0, 1, 'float32', 7) as tf.Tensor4D;
    const tables = ropeTablesForRange(invFreq, 128);
    const idx = tf.tensor1d(positions, 'int32');
    const cos = tf.reshape(tf.gather(tables.cos, idx), [1, 1, t, d]) as tf.Tensor4D;
    const sin = tf.reshape(tf.gather(tables.sin, idx), [1, 1, t, d]) as tf.Tensor4D;
    const rotate = rotateHalfMatrix(d);
    const expected = reference(x, invFreq, positions);
    const inference = applyRope(x, cos, sin, rotate);
    await expectTensorsClose(inference, expected, { rtol: 0, atol: 0 });
    // Under a tape the roll is a custom-gradient matmul: same values, and the gradient of Σ w·rope(x).
    const w = tf.randomNormal(x.shape, 0, 1, 'float32', 8);
    const [grad] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(applyRope(a as tf.Tensor4D, cos, sin, rotate), w)))([x]);
    const [refGrad] = tf.grads((a: tf.Tensor) => tf.sum(tf.mul(reference(a as tf.Tensor4D, invFreq, positions), w)))([x]);
    expect(grad?.shape).toEqual(x.shape);
    await expectTensorsClose(grad as tf.Tensor, refGrad as tf.Tensor, { rtol: 1e-6, atol: 1e-6 });
    tf.dispose([
      invFreq,
      x,
      tables.cos,
      tables.sin,
      idx,
      cos,
      sin,
      rotate,
      expected,
      inference,
      w,
      grad as tf.Tensor,
      refGrad as tf.Tensor,
    ]);
  });
});

describe('length-dependent rope types', () => {
  const base = { theta: 10000, factor: 4, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16 } as const;
  const plain = ropeInverseFrequencies({ ...base, type: 'default' }, 16);

  it('dynamic: unscaled up to max_position_embeddings, a larger base (lower frequencies) beyond, growing with the length', () => {
    const rope: RopeConfig = { ...base, type: 'dynamic' };
    expect(ropeInverseFrequencies(rope, 16)).toEqual(plain);
    expect(ropeInverseFrequencies(rope, 16, 16)).toEqual(plain);
    expect(ropeDependsOnLength(rope, 16)).toBe(false);
    expect(ropeDependsOnLength(rope, 17)).toBe(true);
    const at32 = ropeInverseFrequencies(rope, 16, 32);
    const at64 = ropeInverseFrequencies(rope, 16, 64);
    expect(at32[0]).toBe(1);
    for (let i = 1; i < 8; i++) {
      expect(at32[i]).toBeLessThan(plain[i] as number);
      expect(at64[i]).toBeLessThan(at32[i] as number);
    }
  });

  it('longrope: short factors up to the original length, long ones beyond', () => {
    const shortFactor = [1, 1, 1, 1, 2, 2, 2, 2];
    const longFactor = [1, 2, 3, 4, 5, 6, 7, 8];
    const rope: RopeConfig = { ...base, type: 'longrope', attentionFactor: 1.25, shortFactor, longFactor };
    const short = ropeInverseFrequencies(rope, 16, 16);
    const long = ropeInverseFrequencies(rope, 16, 17);
    expect(ropeInverseFrequencies(rope, 16)).toEqual(short);
    for (let i = 0; i < 8; i++) {
      expect(short[i]).toBeCloseTo((plain[i] as number) / (shortFactor[i] as number), 6);
      expect(long[i]).toBeCloseTo((plain[i] as number) / (longFactor[i] as number), 6);
    }
    expect(ropeAttentionScaling(rope)).toBe(1.25);
  });

  it('yarn: high frequencies kept, low ones divided by factor, independent of the length', () => {
    const rope: RopeConfig = { ...base, type: 'yarn', attentionFactor: 1.1, betaFast: 32, betaSlow: 1, truncate: true };
    const inv = ropeInverseFrequencies(rope, 16);
    expect(inv[0]).toBe(plain[0]);
    expect(inv[7]).toBe(Math.fround((plain[7] as number) / 4));
    expect(ropeInverseFrequencies(rope, 16, 1000)).toEqual(inv);
    expect(ropeDependsOnLength(rope, 1000)).toBe(false);
  });

  it('ropeTablesForPositions equals the gathered rows of ropeTablesForRange, scaled', async () => {
    const inv = tf.tensor1d(plain);
    const table = ropeTablesForRange(inv, 40, 1.25);
    const positions = tf.tensor1d([3, 39, 0, 17], 'int32');
    const rows = ropeTablesForPositions(inv, positions, 1.25);
    const unscaled = ropeTablesForPositions(inv, positions);
    await expectTensorsClose(rows.cos, tf.gather(table.cos, positions), { rtol: 0, atol: 0 });
    await expectTensorsClose(rows.sin, tf.gather(table.sin, positions), { rtol: 0, atol: 0 });
    await expectTensorsClose(rows.cos, tf.mul(unscaled.cos, 1.25), { rtol: 0, atol: 0 });
    tf.dispose([inv, table.cos, table.sin, positions, rows.cos, rows.sin, unscaled.cos, unscaled.sin]);
  });
});
