import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../generate/generate.js';
import { Embedding } from '../layers/embedding.js';
import { variableGradsLean } from '../layers/lean-grads.js';
import { expectTensorsClose, randomCausalLM, setupTestBackend } from '../test/index.js';

const TYPES = ['llama', 'mistral', 'qwen3', 'gemma3_text'] as const;

beforeAll(async () => {
  await setupTestBackend();
});

describe.each(TYPES)('%s tiny decoder', (type) => {
  it('gives logits of shape [B, T, V] and batch rows equal to single-row forwards', async () => {
    const model = await randomCausalLM(type, { seed: 1 });
    const ids = [
      [1, 5, 9, 3, 7, 11, 2, 4],
      [1, 8, 6, 10, 12, 13, 14, 15],
    ];
    const both = model.forward(tf.tensor2d(ids.flat(), [2, 8], 'int32'));
    expect(both.shape).toEqual([2, 8, 64]);
    const second = model.forward(tf.tensor2d(ids[1] as number[], [1, 8], 'int32'));
    await expectTensorsClose(tf.slice(both, [1, 0, 0], [1, -1, -1]), second, { rtol: 1e-4, atol: 1e-5 });
    tf.dispose([both, second]);
    model.dispose();
  });

  it('cached incremental decoding equals the full forward at every step', async () => {
    const model = await randomCausalLM(type, { seed: 2 });
    const prompt = [1, 7, 3, 9, 4];
    const { sequences } = await generate(model, [prompt], { maxNewTokens: 8 });
    const tokens = [...prompt, ...(sequences[0] as number[])];
    const full = model.forward(tf.tensor2d(tokens, [1, tokens.length], 'int32'));
    const argmax = (await tf.argMax(full, -1).array()) as number[][];
    full.dispose();
    const expected = (argmax[0] as number[]).slice(prompt.length - 1, tokens.length - 1);
    expect(sequences[0]).toEqual(expected);
    model.dispose();
  });

  it('left-padded batch generation matches each prompt generated alone', async () => {
    const model = await randomCausalLM(type, { seed: 3 });
    const prompts = [
      [1, 4, 9],
      [1, 5, 6, 7, 8, 10],
    ];
    const batched = await generate(model, prompts, { maxNewTokens: 6, padTokenId: 0 });
    for (const [i, p] of prompts.entries()) {
      const alone = await generate(model, [p], { maxNewTokens: 6 });
      expect(batched.sequences[i]).toEqual(alone.sequences[0]);
    }
    model.dispose();
  });

  it('does not leak tensors across forwards and generations', async () => {
    const model = await randomCausalLM(type, { seed: 4 });
    const ids = tf.tensor2d([1, 2, 3, 4], [1, 4], 'int32');
    model.forward(ids).dispose();
    await generate(model, [[1, 2]], { maxNewTokens: 3 });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) model.forward(ids).dispose();
    await generate(model, [[1, 2], [3]], { maxNewTokens: 4, temperature: 0.8, topK: 5, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    ids.dispose();
    model.dispose();
  });

  it('exposes embed_tokens and lm_head as replaceable slots; a trainable embedding copy trains through the model', async () => {
    const model = await randomCausalLM(type, { seed: 5 });
    const tied = model.config.tieWordEmbeddings;
    expect(model.embeddingModule().path).toBe('model.embed_tokens');
    expect(model.lmHeadModule().path).toBe('lm_head');
    expect(model.linearModules().some((s) => s.path === 'lm_head')).toBe(!tied);
    const ids = tf.tensor2d([1, 5, 9, 5, 7, 1], [1, 6], 'int32');
    const before = model.forward(ids);
    const slot = model.embeddingModule();
    const original = slot.get();
    const copy = new Embedding(original.denseWeight(), 'vocab-major', {
      scale: original.scale,
      trainable: true,
      name: `${type}/model.embed_tokens.weight`,
    });
    slot.set(copy);
    const after = model.forward(ids);
    await expectTensorsClose(after, before, { rtol: 1e-5, atol: 1e-6 });
    expect(model.trainableVariables()).toEqual(copy.trainableVariables());
    const [table] = copy.trainableVariables() as [tf.Variable];
    const { value, grads } = variableGradsLean(() => tf.mean(tf.square(model.forward(ids))), [table]);
    const g = (await (grads[table.name] as tf.Tensor2D).array()) as number[][];
    // Only the rows of ids 1, 5, 7 and 9 get a gradient.
    g.forEach((row, i) => expect(row.some((x) => x !== 0)).toBe([1, 5, 7, 9].includes(i)));
    slot.set(original);
    copy.dispose();
    tf.dispose([ids, before, after, value, ...Object.values(grads)]);
    model.dispose();
  });
});
