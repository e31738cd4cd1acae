import { join } from 'node:path';
import { Rng } from '@lora/core';
import { loadModel } from '@lora/models';
import { setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { it } from 'vitest';
import { quantizeModel } from './quantize-model.js';
it('diag', async () => {
  await setupTestBackend();
  const { model } = await loadModel(join('/work/shared', 'models', 'stories260K'));
  const loss = (ids: tf.Tensor2D) => tf.tidy(() => {
    const [b, s] = ids.shape;
    const logits = model.forward(ids.slice([0, 0], [b, s - 1]) as tf.Tensor2D);
    const v = logits.shape[2];
    const lp = tf.logSoftmax(logits.reshape([-1, v]));
    return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(ids.slice([0, 1], [b, s - 1]).reshape([-1]) as tf.Tensor1D, v), lp), 1))).dataSync()[0];
  });
  const rng = new Rng(42);
  const rand = tf.tensor2d(Int32Array.from({ length: 4 * 33 }, () => rng.nextInt(512)), [4, 33], 'int32');
  // greedy text from BOS
  const seqs: number[][] = [[1, 403], [1, 365], [1, 297], [1, 429]];
  for (let t = 0; t < 31; t++) {
    const x = tf.tensor2d(seqs.flat(), [4, seqs[0]!.length], 'int32');
    const logits = model.forward(x);
    const last = tf.tidy(() => tf.argMax(logits.slice([0, seqs[0]!.length - 1, 0], [4, 1, -1]).reshape([4, -1]), 1).dataSync());
    seqs.forEach((s, i) => s.push(last[i] as number));
    tf.dispose([x, logits]);
  }
  console.log(JSON.stringify(seqs[0]));
  const text = tf.tensor2d(seqs.flat(), [4, 33], 'int32');
  console.log('dense rand', loss(rand), 'dense text', loss(text));
  quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
  console.log('nf4 rand', loss(rand), 'nf4 text', loss(text));
});
