import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { packSequences } from '../transforms/pack.js';
import { collate, collatePacked } from './collate.js';
import { batchToTensors, disposeBatchTensors } from './to-tensors.js';

// Only int32 copies are checked here, identical on every backend, so the reference cpu backend is
// used (the wasm test backend lives in @lora/models, which @lora/data must not depend on).
beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

const a = { inputIds: Int32Array.of(1, 2, 3), labelsMask: Uint8Array.of(0, 1, 1) };
const b = { inputIds: Int32Array.of(4, 5), labelsMask: Uint8Array.of(1, 1) };

describe('batchToTensors', () => {
  it('makes int32 [batch, length] tensors with the batch values and disposes them all', async () => {
    const before = tf.memory().numTensors;
    const batch = collate([a, b], { padId: 0 });
    const t = batchToTensors(batch);
    expect(t.inputIds.shape).toEqual([2, 3]);
    expect([t.inputIds.dtype, t.labels.dtype, t.attentionMask.dtype]).toEqual(['int32', 'int32', 'int32']);
    expect(Array.from(await t.labels.data())).toEqual(Array.from(batch.labels));
    expect(Array.from(await t.attentionMask.data())).toEqual(Array.from(batch.attentionMask));
    expect(t.positionIds).toBeUndefined();
    disposeBatchTensors(t);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('includes position and segment ids of packed batches', async () => {
    const batch = collatePacked(packSequences([a, b], { maxLength: 8 }).sequences, { padId: 0, length: 8 });
    const t = batchToTensors(batch);
    expect(Array.from(await (t.segmentIds as tf.Tensor).data())).toEqual(Array.from(batch.segmentIds ?? []));
    expect(Array.from(await (t.positionIds as tf.Tensor).data())).toEqual(Array.from(batch.positionIds ?? []));
    disposeBatchTensors(t);
  });
});
