import * as tf from '@tensorflow/tfjs';
import { Rng } from '@lora/core';
import { Linear } from '@lora/models';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import { beforeAll, describe, expect, it } from 'vitest';
import { dequantize4bit } from './blockwise.js';
import { defaultMaps } from './format.js';
import { Nf4Linear } from './nf4-linear.js';
import { lookupWords, packWords, tripleTable, unpackCodes, unpackWords } from './pack.js';

let backend: string;
beforeAll(async () => {
  backend = await setupTestBackend();
});

function randomArray(n: number, seed: number, std = 0.5): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => std * rng.normal());
}

describe('6-nibble packing', () => {
  it.each(['wasm', 'cpu'])('round-trips every code on %s (incl. all-15 words = 2^24 - 1)', async (name) => {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    expect(await tf.setBackend(name)).toBe(true);
    try {
      const rng = new Rng(3);
      const codes = Uint8Array.from({ length: 6 * 500 }, (_, i) => (i < 60 ? 15 : rng.nextInt(16)));
      const words = packWords(codes);
      expect(unpackWords(words, codes.length)).toEqual(codes);
      const t = tf.tensor1d(words, 'int32');
      const out = unpackCodes(t);
      expect(Array.from(await out.data())).toEqual(Array.from(codes));
      t.dispose();
      out.dispose();
    } finally {
      await tf.setBackend(backend);
    }
  });

  it.each(['test backend', 'wasm', 'cpu'])('lookupWords gives the code-map values of every nibble bit for bit on %s', async (name) => {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (name !== 'test backend') expect(await tf.setBackend(name)).toBe(true);
    try {
      const rng = new Rng(5);
      // Every 12-bit triple appears (words i·4097 cover low = high = i), plus random words and 2^24 - 1.
      const words = Int32Array.from({ length: 4096 + 700 }, (_, i) => (i < 4096 ? i * 4097 : i === 4096 ? 2 ** 24 - 1 : rng.nextInt(2 ** 24)));
      const map = defaultMaps('nf4').quantMap;
      const table = tf.tensor2d(tripleTable(map), [4096, 3]);
      const t = tf.tensor1d(words, 'int32');
      const values = lookupWords(t, table);
      const codes = unpackWords(words, words.length * 6);
      expect(Array.from(await values.data())).toEqual(Array.from(codes, (c) => map[c] as number));
      tf.dispose([table, t, values]);
    } finally {
      await tf.setBackend(backend);
    }
  });
});

describe.each(['nf4', 'fp4'] as const)('Nf4Linear (%s)', (quantType) => {
  const [out, inF] = [48, 40];
  const weight = randomArray(out * inF, 1);

  it('forward equals a dense Linear holding the dequantized weight; dx equals; no base gradient; no leaks', async () => {
    const layer = Nf4Linear.quantize(weight, out, inF, { quantType, blocksize: 64, doubleQuant: true, bias: tf.tensor1d(randomArray(out, 9)) });
    const state = await layer.quantState();
    const host = dequantize4bit(state.packed, Float32Array.from((await layer.absmax.data()) as Float32Array), quantType, 64, out * inF);
    const dense = Linear.fromTorch(host, out, inF, { bias: tf.tensor1d(randomArray(out, 9)) });
    const x = tf.tensor3d(randomArray(2 * 5 * inF, 2, 1), [2, 5, inF]);
    const before = tf.memory().numTensors;
    const y = layer.apply(x);
    const yDense = dense.apply(x);
    expect(y.shape).toEqual([2, 5, out]);
    await expectTensorsClose(y, yDense, { rtol: 1e-5, atol: 1e-5 });
    const loss = (l: { apply(t: tf.Tensor): tf.Tensor }) => (t: tf.Tensor) => tf.sum(tf.square(l.apply(t)));
    const dx = tf.grad(loss(layer))(x);
    const dxDense = tf.grad(loss(dense))(x);
    await expectTensorsClose(dx, dxDense, { rtol: 1e-4, atol: 1e-5 });
    expect(layer.trainableVariables()).toEqual([]);
    tf.dispose([y, yDense, dx, dxDense]);
    expect(tf.memory().numTensors).toBe(before);
    // denseWeight is [in, out] and equals the host dequantization.
    const w = layer.denseWeight();
    expect(w.shape).toEqual([inF, out]);
    await expectTensorsClose(tf.transpose(w), host, { rtol: 0, atol: 0 });
    tf.dispose([w, x]);
    layer.dispose();
    dense.dispose();
  });

  it('quantState() gives back the bnb bytes it was built from', async () => {
    const layer = Nf4Linear.quantize(weight.subarray(0, 47 * 3), 47, 3, { quantType, blocksize: 32, doubleQuant: false });
    const again = new Nf4Linear(await layer.quantState());
    expect((await again.quantState()).packed).toEqual((await layer.quantState()).packed);
    expect((await layer.quantState()).packed.length).toBe(Math.ceil((47 * 3) / 2));
    layer.dispose();
    again.dispose();
  });

  it('cacheWeightForBackward gives the same dx, frees the saved weight after backprop, saves nothing without a tape', async () => {
    const layer = Nf4Linear.quantize(weight, out, inF, { quantType, blocksize: 64, doubleQuant: true });
    const x = tf.tensor2d(randomArray(3 * inF, 5, 1), [3, inF]);
    const loss = (t: tf.Tensor) => tf.sum(tf.square(layer.apply(t)));
    const dx = tf.grad(loss)(x);
    layer.cacheWeightForBackward = true;
    const before = tf.memory().numTensors;
    const dxCached = tf.grad(loss)(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    await expectTensorsClose(dxCached, dx, { rtol: 0, atol: 0 });
    const y = layer.apply(x);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([dx, dxCached, y, x]);
    layer.dispose();
  });
});
