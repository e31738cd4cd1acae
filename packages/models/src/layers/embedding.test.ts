import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupTestBackend } from '../test/index.js';
import { Embedding, gatherRows } from './embedding.js';
import { variableGradsLean } from './lean-grads.js';

beforeAll(async () => {
  await setupTestBackend();
});

const VOCAB = 7;
const HIDDEN = 3;
const tableValues = Array.from({ length: VOCAB * HIDDEN }, (_, i) => Math.sin(i * 1.7) * 0.8);
// Repeated ids (2 three times, 5 twice) must accumulate; rows 0, 3, 6 get no gradient.
const idValues = [2, 5, 2, 1, 4, 2, 5, 1];
const weightValues = Array.from({ length: idValues.length * HIDDEN }, (_, i) => Math.cos(i * 0.9) - 0.2);

/** Σ gather(table, ids) ⊙ R on the host (float64), the function whose gradient is checked. */
function hostLoss(table: readonly number[]): number {
  let s = 0;
  idValues.forEach((id, n) => {
    for (let c = 0; c < HIDDEN; c++) s += (table[id * HIDDEN + c] as number) * (weightValues[n * HIDDEN + c] as number);
  });
  return s;
}

/** Central finite differences of {@link hostLoss} (the loss is linear, so they are exact up to rounding). */
function numericGradient(): number[] {
  const eps = 1e-3;
  return tableValues.map((_, i) => {
    const up = [...tableValues];
    const down = [...tableValues];
    up[i] = (up[i] as number) + eps;
    down[i] = (down[i] as number) - eps;
    return (hostLoss(up) - hostLoss(down)) / (2 * eps);
  });
}

describe('gatherRows', () => {
  it('has the scatter-add gradient of a row gather (duplicate ids accumulate), on the active backend', async () => {
    const ids = tf.tensor1d(idValues, 'int32');
    const r = tf.tensor2d(weightValues, [idValues.length, HIDDEN]);
    const table = tf.variable(tf.tensor2d(tableValues, [VOCAB, HIDDEN]), true, 'gather-rows-table');
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(gatherRows(table, ids), r)), [table]);
    expect((await value.data())[0]).toBeCloseTo(hostLoss(tableValues), 4);
    const got = Array.from(await (grads[table.name] as tf.Tensor).data());
    const want = numericGradient();
    for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-3);
    // Untouched rows are exactly zero.
    for (const row of [0, 3, 6]) for (let c = 0; c < HIDDEN; c++) expect(got[row * HIDDEN + c]).toBe(0);
    tf.dispose([ids, r, table, value, ...Object.values(grads)]);
  });

  it('equals tf.gather without a gradient tape', async () => {
    const ids = tf.tensor1d(idValues, 'int32');
    const table = tf.tensor2d(tableValues, [VOCAB, HIDDEN]);
    expect(Array.from(await gatherRows(table, ids).data())).toEqual(Array.from(await tf.gather(table, ids, 0).data()));
    tf.dispose([ids, table]);
  });
});

describe('Embedding', () => {
  it('trains its table in either layout with the same gradient (variableGradsLean, scaled lookup)', async () => {
    const ids = tf.tensor2d(idValues, [2, 4], 'int32');
    const r = tf.tensor3d(weightValues, [2, 4, HIDDEN]);
    const scale = 1.5;
    const want = numericGradient().map((g) => g * scale);
    const before = tf.memory().numTensors;
    for (const layout of ['vocab-major', 'hidden-major'] as const) {
      const source = tf.tensor2d(tableValues, [VOCAB, HIDDEN]);
      const table = layout === 'vocab-major' ? source : tf.transpose(source);
      if (layout === 'hidden-major') source.dispose();
      const emb = new Embedding(table, layout, { scale, trainable: true, name: `emb-${layout}` });
      expect([emb.numEmbeddings, emb.embeddingDim]).toEqual([VOCAB, HIDDEN]);
      const [v] = emb.trainableVariables() as [tf.Variable];
      const { value, grads } = variableGradsLean(() => tf.sum(tf.mul(emb.apply(ids), r)), [v]);
      expect((await value.data())[0]).toBeCloseTo(hostLoss(tableValues) * scale, 4);
      const g = grads[v.name] as tf.Tensor2D;
      const dense = layout === 'vocab-major' ? g : tf.transpose(g);
      const got = Array.from(await dense.data());
      for (let i = 0; i < want.length; i++) expect(Math.abs((got[i] as number) - (want[i] as number))).toBeLessThan(1e-3);
      const weight = emb.denseWeight();
      expect(Array.from(await weight.data())).toEqual(Array.from(new Float32Array(tableValues)));
      tf.dispose([value, g, dense, weight]);
      emb.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([ids, r]);
  });

  it('leaves a table it does not own (a tied head weight) alive', () => {
    const table = tf.tensor2d(tableValues, [HIDDEN, VOCAB]);
    new Embedding(table, 'hidden-major', { ownsTable: false }).dispose();
    expect(table.isDisposed).toBe(false);
    table.dispose();
  });
});
