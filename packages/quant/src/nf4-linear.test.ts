import * as tf from '@tensorflow/tfjs';
import { Rng } from '@lora/core';
import { Linear } from '@lora/models/internal';
import { expectTensorsClose, setupTestBackend } from '@lora/models/test';
import { beforeAll, describe, expect, it } from 'vitest';
import { decompressAbsmax, dequantize4bit } from './blockwise.js';
import type { QuantState } from './format.js';
import { defaultMaps } from './format.js';
import { Nf4Linear } from './nf4-linear.js';
import {
  lookupBytePlanes,
  packBytePlanes,
  packCodePlanes,
  packWords,
  pairTable,
  splitBytePlanes,
  unpackBytePlanes,
  unpackCodePlanes,
  unpackCodes,
  unpackWords,
  wordBitsOf,
  type WordBits,
} from './pack.js';

let backend: string;
beforeAll(async () => {
  backend = await setupTestBackend();
});

/** Runs `body` on backend `name` ('test backend' = the one `setupTestBackend` chose), then switches back. */
async function onBackend(name: string, body: () => Promise<void>): Promise<void> {
  if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
  if (name !== 'test backend') expect(await tf.setBackend(name)).toBe(true);
  try {
    await body();
  } finally {
    await tf.setBackend(backend);
  }
}

/** The float32 absmax of a quant state, as bitsandbytes dequantizes it on the host. */
function hostAbsmax(state: QuantState): Float32Array {
  return state.nested === undefined
    ? (state.absmax as Float32Array)
    : decompressAbsmax(
        { absmax: state.absmax as Uint8Array, nestedAbsmax: state.nested.absmax, offset: state.nested.offset },
        state.nested.quantMap,
        state.nested.blocksize,
      );
}

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
});

/** Extreme int32 words (both signs, every half at its limits) then random ones over the whole range. */
function extremeWords(bits: WordBits, count: number, seed: number): Int32Array {
  const rng = new Rng(seed);
  const edges =
    bits === 32
      ? [
          -(2 ** 31),
          2 ** 31 - 1,
          -1,
          0,
          1,
          32767,
          32768,
          -32768,
          -32769,
          65535,
          65536,
          -65536,
          -65537,
          2 ** 31 - 65536,
          -(2 ** 31) + 65535,
          0x7fff8000,
          -0x7fff8000,
          0x00ff00ff,
          -0x00ff0100,
        ]
      : [0, 1, 255, 256, 65535, 65536, 2 ** 24 - 1, 2 ** 24 - 256, 2 ** 23, 2 ** 23 - 1];
  return Int32Array.from(
    { length: count },
    (_, i) => edges[i] ?? (bits === 32 ? (rng.nextInt(2 ** 16) * 65536 + rng.nextInt(2 ** 16)) | 0 : rng.nextInt(2 ** 24)),
  );
}

describe('byte-plane packing (8 nibbles per int32 where int32 math is exact)', () => {
  it.each(['tensorflow', 'wasm', 'cpu', 'webgpu', 'webgl'])('%s gets the word size its int32 arithmetic allows', (name) => {
    expect(wordBitsOf(name)).toBe(['tensorflow', 'wasm', 'cpu'].includes(name) ? 32 : 24);
  });

  it.each([32, 24] as const)('host packing round-trips every byte value and every int32 word (%i-bit words)', (bits) => {
    const rng = new Rng(11);
    const bytes = Uint8Array.from({ length: 4 * 256 + 37 }, (_, i) => (i < 256 ? i : rng.nextInt(256)));
    const words = packBytePlanes(bytes, bits);
    expect(words.length).toBe(Math.ceil(bytes.length / (bits / 8)));
    expect(unpackBytePlanes(words, bits, bytes.length)).toEqual(bytes);
    // Every int32 (every value < 2^24 for 24 bits) is the packing of exactly one byte string.
    const any = extremeWords(bits, 3000, 12);
    expect(packBytePlanes(unpackBytePlanes(any, bits, (any.length * bits) / 8), bits)).toEqual(any);
    const codes = Uint8Array.from({ length: 2 * bytes.length - 1 }, () => rng.nextInt(16));
    expect(unpackCodePlanes(packCodePlanes(codes, bits), bits, codes.length)).toEqual(codes);
  });

  it.each(['test backend', 'wasm', 'cpu'])(
    'splitBytePlanes and lookupBytePlanes are exact for extreme and random words on %s',
    async (name) => {
      await onBackend(name, async () => {
        const before = tf.memory().numTensors;
        for (const bits of [wordBitsOf(), 24] as const) {
          const words = extremeWords(bits, 4096, 13);
          const t = tf.tensor1d(words, 'int32');
          const split = splitBytePlanes(t, bits);
          expect(split.dtype).toBe('int32');
          expect(split.shape).toEqual([(words.length * bits) / 8]);
          expect(Array.from(await split.data())).toEqual(Array.from(unpackBytePlanes(words, bits, (words.length * bits) / 8)));
          const map = defaultMaps('nf4').quantMap;
          const table = tf.tensor2d(pairTable(map), [256, 2]);
          const values = lookupBytePlanes(t, bits, table);
          const codes = unpackCodePlanes(words, bits, (words.length * bits) / 4);
          expect(Array.from(await values.data())).toEqual(Array.from(codes, (c) => map[c] as number));
          tf.dispose([t, split, table, values]);
        }
        expect(tf.memory().numTensors).toBe(before);
      });
    },
  );
});

describe.each(['test backend', 'wasm', 'cpu'])('Nf4Linear resident layout on %s', (name) => {
  // 130·130 = 16900 elements: 265 blocks of 64 (the last partial), two nested blocks of 256 (one partial).
  const shapes = [
    [130, 130],
    [47, 3],
    [64, 256],
  ] as const;
  it.each([
    ['nf4', true],
    ['nf4', false],
    ['fp4', true],
  ] as const)(
    '%s (double quant %s): dequantized weight and absmax equal bitsandbytes bit for bit; bnb bytes round-trip; no leaks',
    async (quantType, doubleQuant) => {
      await onBackend(name, async () => {
        const before = tf.memory().numTensors;
        for (const [out, inF] of shapes) {
          const weight = randomArray(out * inF, out + inF, 0.3);
          for (let i = 0; i < 64; i++) weight[i] = 0; // a zero block
          const blocksize = inF === 3 ? 32 : 64;
          const layer = Nf4Linear.quantize(weight, out, inF, { quantType, blocksize, doubleQuant });
          expect(layer.wordBits).toBe(wordBitsOf());
          const state = await layer.quantState();
          const again = new Nf4Linear(state);
          const stateAgain = await again.quantState();
          expect(stateAgain.packed).toEqual(state.packed);
          expect(stateAgain.absmax).toEqual(state.absmax);
          expect(stateAgain.nested).toEqual(state.nested);
          const absmax = hostAbsmax(state);
          const deviceAbsmax = layer.absmax;
          expect(deviceAbsmax.shape).toEqual([absmax.length, 1]);
          expect(Array.from(await deviceAbsmax.data())).toEqual(Array.from(absmax));
          const w = layer.dequantizeTorchLayout();
          expect(w.shape).toEqual([out, inF]);
          expect(Array.from(await w.data())).toEqual(Array.from(dequantize4bit(state.packed, absmax, quantType, blocksize, out * inF)));
          // Resident: int32 words of wordBits/8 bytes holding two codes per byte, then (double quant)
          // one byte per absmax padded to whole nested blocks of 256; nested absmax and offset.
          const blocks = Math.ceil((out * inF) / blocksize);
          const nested = Math.ceil(blocks / 256);
          const bytes = (blocks * blocksize) / 2 + (doubleQuant ? 256 * nested : 0);
          const words = 4 * Math.ceil(bytes / (layer.wordBits / 8));
          const absmaxBytes = doubleQuant ? 4 * nested + 4 + (4 * 256) / 2 : 4 * blocks;
          // `layer` and `again` share the look-up tables: half each.
          expect(layer.residentBytes()).toBe(words + absmaxBytes + 4 * 16 + (4 * 512) / 2);
          tf.dispose([deviceAbsmax, w]);
          layer.dispose();
          again.dispose();
        }
        expect(tf.memory().numTensors).toBe(before);
      });
    },
  );
});

describe.each(['nf4', 'fp4'] as const)('Nf4Linear (%s)', (quantType) => {
  const [out, inF] = [48, 40];
  const weight = randomArray(out * inF, 1);

  it('forward equals a dense Linear holding the dequantized weight; dx equals; no base gradient; no leaks', async () => {
    const layer = Nf4Linear.quantize(weight, out, inF, {
      quantType,
      blocksize: 64,
      doubleQuant: true,
      bias: tf.tensor1d(randomArray(out, 9)),
    });
    const state = await layer.quantState();
    const host = dequantize4bit(state.packed, hostAbsmax(state), quantType, 64, out * inF);
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
