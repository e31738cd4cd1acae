// The native LoraNf4Dequantize kernel (tools/tfjs-node/ops/nf4.cc, registered by @lora/models on the
// tensorflow backend when lora_ops.node is built) against Nf4Linear's tfjs ops, bit for bit: NF4 and
// FP4, with and without double quantization, sizes that leave a partial last block and a partial
// last nested block, bitsandbytes' dequantized fixtures, and a QLoRA training step's loss and
// gradients. Skipped unless LORA_TEST_BACKEND=tensorflow and the kernel is registered.
import { join } from 'node:path';
import { Rng } from '@lora/core';
import { loadModel } from '@lora/models';
import { NF4_DEQUANTIZE } from '@lora/models/internal';
import { setupTestBackend } from '@lora/models/test';
import { getPeftModel, loraConfig } from '@lora/peft';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { QuantType } from './codebooks/codebooks.js';
import { Nf4Linear } from './nf4-linear.js';
import { quantizeModel } from './quantize-model.js';
import { bits, bitsUnsignedZero, f32, FIXTURES, openBlockwiseFixtures } from './test/fixtures.js';

const backend = await setupTestBackend();
const active = tf.getKernel(NF4_DEQUANTIZE, backend) !== undefined;
const skipReason =
  backend === 'tensorflow' ? 'lora_ops.node is not loaded (pnpm setup:tensorflow builds it)' : `test backend ${backend}, not tensorflow`;

/** Runs `body` with the native kernel unregistered (Nf4Linear's tfjs ops), then registers it again. */
async function withoutNativeKernel<T>(body: () => Promise<T>): Promise<T> {
  const config = tf.getKernel(NF4_DEQUANTIZE, 'tensorflow');
  if (config === undefined) throw new Error(`${NF4_DEQUANTIZE} is not registered`);
  tf.unregisterKernel(NF4_DEQUANTIZE, 'tensorflow');
  try {
    return await body();
  } finally {
    tf.registerKernel(config);
  }
}

/** Float32 bits of a tensor (disposed). */
async function tensorBits(t: tf.Tensor): Promise<Uint32Array> {
  const data = (await t.data()) as Float32Array;
  t.dispose();
  return bits(data);
}

/** Normal weights whose scale changes from row to row (absmax spans decades) with one zero block. */
function weights(out: number, inF: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const w = Float32Array.from({ length: out * inF }, (_, i) => 10 ** (((Math.floor(i / inF) % 7) - 4) / 2) * rng.normal());
  w.fill(0, 0, Math.min(64, w.length));
  return w;
}

describe.skipIf(!active)(`LoraNf4Dequantize${active ? '' : ` (${skipReason})`}`, () => {
  // [out, in, blocksize]: blocks dividing the weight, a partial last block, an odd element count
  // smaller than one block, more than 256 blocks with a partial last nested block, and SmolLM2's
  // widest shape.
  const shapes: [number, number, number][] = [
    [32, 64, 64],
    [33, 17, 64],
    [5, 3, 32],
    [300, 257, 64],
    [129, 67, 128],
    [24, 190, 4096],
    [1536, 576, 64],
  ];

  it.each([
    ['nf4', true],
    ['nf4', false],
    ['fp4', true],
    ['fp4', false],
  ] as [QuantType, boolean][])('%s (double quant %s) equals the tfjs ops bit for bit; no leaks', async (quantType, doubleQuant) => {
    const before = tf.memory().numTensors;
    for (const [out, inF, blocksize] of shapes) {
      const layer = Nf4Linear.quantize(weights(out, inF, out + inF), out, inF, { quantType, blocksize, doubleQuant });
      expect(layer.usesNativeDequantize).toBe(true);
      const native = layer.dequantizeTorchLayout();
      expect(native.shape).toEqual([out, inF]);
      const ops = layer.dequantizeWithOps();
      expect(await tensorBits(native), `[${out}, ${inF}] blocksize ${blocksize}`).toEqual(await tensorBits(ops));
      layer.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('equals bitsandbytes dequantize_4bit on every fixture case (fixtures/quant)', async () => {
    const { cases, reader } = await openBlockwiseFixtures();
    for (const c of cases) {
      const shape = c.shape.length === 1 ? [1, c.shape[0] as number] : c.shape;
      const input = await f32(reader, `${c.shapeId}.input`);
      const layer = Nf4Linear.quantize(input, shape[0] as number, shape[1] as number, {
        quantType: c.quantType,
        blocksize: c.blocksize,
        doubleQuant: c.compressStatistics,
      });
      expect(layer.usesNativeDequantize).toBe(true);
      const native = (await layer.dequantizeTorchLayout().data()) as Float32Array;
      expect(bitsUnsignedZero(native), c.name).toEqual(bitsUnsignedZero(await f32(reader, `${c.name}.dequant`)));
      layer.dispose();
    }
  });

  it('rejects inputs that do not match the attributes, with what was expected', () => {
    const layer = Nf4Linear.quantize(weights(8, 64, 1), 8, 64, { blocksize: 64, doubleQuant: false });
    const absmax = layer.absmax;
    const run = (attrs: tf.NamedAttrMap, inputs: Record<string, tf.Tensor> = {}) =>
      tf.tidy(() => tf.engine().runKernel(NF4_DEQUANTIZE, { words: layer.words, code: layer.code, absmax, ...inputs }, attrs));
    expect(() => run({ rows: 8, cols: 32, blocksize: 64 })).toThrow(/absmax must hold 4 values/);
    expect(() => run({ rows: 16, cols: 64, blocksize: 64 })).toThrow(/needs 512/);
    expect(() => run({ rows: 8, cols: 64, blocksize: 63 })).toThrow(/blocksize must be an even number/);
    expect(() => run({ rows: 8, cols: 64, blocksize: 64 }, { code: tf.zeros([8]) })).toThrow(/16 values of a 4-bit code map/);
    const dq = Nf4Linear.quantize(weights(8, 64, 1), 8, 64, { blocksize: 64, doubleQuant: true });
    const nested = (nestedAbsmax: tf.Tensor, nestedMap: tf.Tensor) =>
      tf.tidy(() =>
        tf
          .engine()
          .runKernel(
            NF4_DEQUANTIZE,
            { words: dq.words, code: dq.code, nestedAbsmax, offset: tf.scalar(0), nestedMap },
            { rows: 8, cols: 64, blocksize: 64, nestedBlocksize: 256 },
          ),
      );
    expect(() => nested(tf.ones([2]), tf.zeros([256]))).toThrow(/nested_absmax must hold 1 values/);
    expect(() => nested(tf.ones([1]), tf.zeros([16]))).toThrow(/nested_map must hold the 256 values/);
    tf.dispose(nested(tf.ones([1]), tf.zeros([256]))); // the same inputs, well formed, run
    absmax.dispose();
    layer.dispose();
    dq.dispose();
  });

  it('a QLoRA training step on tiny-llama: loss and every LoRA gradient equal the tfjs ops bit for bit', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-llama'));
    await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
    // init_lora_weights=false: B is non-zero, so the gradients go through every base's backward.
    const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', initLoraWeights: false }), { seed: 5 });
    const rng = new Rng(9);
    const ids = tf.tensor2d(
      Array.from({ length: 2 * 12 }, () => rng.nextInt(60)),
      [2, 12],
      'int32',
    );
    const step = async () => {
      const { value, grads } = tf.variableGrads(
        () =>
          tf.tidy(() => {
            const logits = peft.forward(ids.slice([0, 0], [2, 11]));
            const vocab = logits.shape[2] as number;
            const targets = tf.oneHot(ids.slice([0, 1], [2, 11]).reshape([-1]) as tf.Tensor1D, vocab);
            return tf.neg(tf.mean(tf.sum(tf.mul(targets, tf.logSoftmax(logits.reshape([-1, vocab]))), 1))) as tf.Scalar;
          }),
        peft.trainableVariables(),
      );
      const out = new Map<string, Uint32Array>([['loss', await tensorBits(value)]]);
      for (const [name, g] of Object.entries(grads)) out.set(name, await tensorBits(g));
      return out;
    };
    const before = tf.memory().numTensors;
    const native = await step();
    expect(tf.memory().numTensors).toBe(before);
    const ops = await withoutNativeKernel(step);
    expect(native.size).toBe(peft.trainableVariables().length + 1);
    expect([...native.values()].some((g) => g.some((v) => v !== 0))).toBe(true);
    for (const [name, g] of ops) expect(native.get(name), name).toEqual(g);
    ids.dispose();
  });
});
