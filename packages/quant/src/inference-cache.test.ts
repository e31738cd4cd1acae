import { join } from 'node:path';
import { generate, loadModel } from '@lora/models';
import { setupTestBackend } from '@lora/models/test';
import { getPeftModel, loraConfig, LoraLinear } from '@lora/peft';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { withDequantizedWeights } from './inference-cache.js';
import { Nf4Linear } from './nf4-linear.js';
import { quantizeModel } from './quantize-model.js';
import { FIXTURES } from './test/fixtures.js';

beforeAll(async () => {
  await setupTestBackend();
});

describe('withDequantizedWeights', () => {
  it('keeps one float32 weight per 4-bit layer (under LoRA too) while fn runs: same logits, same greedy tokens, nothing left after', async () => {
    const { model } = await loadModel(join(FIXTURES, 'tiny-llama'));
    await quantizeModel(model, { type: 'nf4', blocksize: 64, doubleQuant: true });
    // A random, non-zero adapter (init_lora_weights=false), so the wrapper path is exercised.
    const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', initLoraWeights: false }), { seed: 1 });
    const bases = peft
      .linearModules()
      .map((s) => s.get())
      .map((m) => (m instanceof LoraLinear ? m.base : m))
      .filter((m): m is Nf4Linear => m instanceof Nf4Linear);
    expect(bases.length).toBeGreaterThan(0);
    const ids = tf.tensor2d([[3, 17, 9, 1, 40, 5, 22, 8]], [1, 8], 'int32');
    const logitsOf = async () => {
      const logits = peft.forward(ids);
      const values = await logits.data();
      logits.dispose();
      return Float32Array.from(values as Float32Array);
    };
    const prompt = [[3, 17, 9, 1]];
    const plain = { logits: await logitsOf(), tokens: (await generate(peft, prompt, { maxNewTokens: 6 })).sequences };
    const before = tf.memory().numTensors;
    const kept = await withDequantizedWeights(peft, async () => {
      expect(bases.every((b) => b.keepsDequantized)).toBe(true);
      expect(tf.memory().numTensors).toBe(before + bases.length);
      // No layer dequantizes again while its copy is kept.
      const dequantize = vi.spyOn(Nf4Linear.prototype, 'dequantizeTorchLayout');
      try {
        return { logits: await logitsOf(), tokens: (await generate(peft, prompt, { maxNewTokens: 6 })).sequences };
      } finally {
        expect(dequantize).not.toHaveBeenCalled();
        dequantize.mockRestore();
      }
    });
    expect(kept.logits).toEqual(plain.logits);
    expect(kept.tokens).toEqual(plain.tokens);
    expect(bases.every((b) => !b.keepsDequantized)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
    ids.dispose();
    peft.dispose();
  });

  it('frees the copies when fn throws, and leaves gradients to the per-use dequantization', async () => {
    const layer = Nf4Linear.quantize(
      Float32Array.from({ length: 64 * 32 }, (_, i) => Math.sin(i)),
      64,
      32,
      { quantType: 'nf4', blocksize: 64 },
    );
    const fake = { linearModules: () => [{ path: 'x', get: () => layer, set: () => undefined }] } as unknown as Parameters<
      typeof withDequantizedWeights
    >[0];
    await expect(withDequantizedWeights(fake, () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(layer.keepsDequantized).toBe(false);
    const x = tf.tensor2d(
      Float32Array.from({ length: 3 * 32 }, (_, i) => Math.cos(i)),
      [3, 32],
    );
    const gradOf = () => tf.tidy(() => tf.grad((v: tf.Tensor) => tf.sum(tf.square(layer.apply(v))))(x));
    const plain = gradOf();
    const kept = await withDequantizedWeights(fake, () => gradOf());
    expect(await kept.data()).toEqual(await plain.data());
    tf.dispose([plain, kept, x]);
    layer.dispose();
  });
});
