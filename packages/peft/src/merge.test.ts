import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, parseModelConfig, type HostTensor } from '@lora/models';
import { createCausalLM, MemoryWeightSource, openWeights } from '@lora/models/internal';
import { expectTensorsClose, randomCausalLM, randomWeights, setupTestBackend, tinyConfigJson } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loraConfig } from './config/lora-config.js';
import { saveMergedModel } from './merge.js';
import { getPeftModel } from './peft-model.js';

let tmp = '';
beforeAll(async () => {
  await setupTestBackend();
  tmp = await mkdtemp(join(tmpdir(), 'lora-merge-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const ids = () => tf.tensor2d([[3, 7, 1, 9, 4, 2]], [1, 6], 'int32');

describe('saveMergedModel', () => {
  it('keeps the biases of targeted modules, writes shards + index past maxShardSize, and reloads with the adapter logits', async () => {
    const configJson = tinyConfigJson('llama', { attention_bias: true });
    const config = parseModelConfig(configJson, { file: 'tiny-llama-bias' });
    const tensors = new Map<string, HostTensor>();
    const random = randomWeights(config, 4);
    for (const key of random.keys()) tensors.set(key, await random.get(key));
    for (let i = 0; i < config.numHiddenLayers; i++) {
      for (const [name, size] of [
        ['q_proj', config.numAttentionHeads * config.headDim],
        ['k_proj', config.numKeyValueHeads * config.headDim],
        ['v_proj', config.numKeyValueHeads * config.headDim],
        ['o_proj', config.hiddenSize],
      ] as const) {
        const data = Float32Array.from({ length: size }, (_, j) => Math.sin(i + j));
        tensors.set(`model.layers.${i}.self_attn.${name}.bias`, { dtype: 'float32', shape: [size], data });
      }
    }
    const weights = new MemoryWeightSource(tensors, 'tiny-llama-bias');
    const model = await createCausalLM(config, weights, 'tiny-llama-bias');
    const peft = getPeftModel(model, loraConfig({ targetModules: 'all-linear', initLoraWeights: false }), { seed: 5 });
    const x = ids();
    const expected = peft.forward(x);
    const out = join(tmp, 'bias');
    const written = await saveMergedModel(peft, out, { base: { configJson, weights }, maxShardSize: 40_000 });
    const files = (await readdir(out)).sort();
    expect(files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f)).length).toBeGreaterThan(1);
    expect(files).toContain('model.safetensors.index.json');
    expect(written.map((f) => f.slice(out.length + 1)).sort()).toEqual(files);
    const merged = await openWeights(out);
    try {
      expect([...merged.keys()].sort()).toEqual([...tensors.keys()].sort());
      const bias = await merged.get('model.layers.1.self_attn.k_proj.bias');
      expect(bias.data).toEqual(tensors.get('model.layers.1.self_attn.k_proj.bias')?.data);
    } finally {
      await merged.close();
    }
    const savedConfig = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(savedConfig).toMatchObject({ attention_bias: true, dtype: 'float32' });
    const reloaded = (await loadModel(out)).model;
    await expectTensorsClose(reloaded.forward(x), expected, { rtol: 1e-5, atol: 1e-5 });
    reloaded.dispose();
    peft.dispose();
  });
});

describe('base_model_name_or_path', () => {
  it('is the name the base was loaded under; a model with no name cannot save an adapter', async () => {
    const dir = join(import.meta.dirname, '../../../fixtures/tiny-llama');
    const { model } = await loadModel(dir, { nameOrPath: 'org/tiny-llama' });
    const peft = getPeftModel(model, loraConfig());
    await peft.saveAdapter(join(tmp, 'named'));
    const saved = JSON.parse(await readFile(join(tmp, 'named', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(saved.base_model_name_or_path).toBe('org/tiny-llama');
    peft.dispose();

    const anonymous = getPeftModel(await randomCausalLM('llama'), loraConfig());
    await expect(anonymous.saveAdapter(join(tmp, 'anonymous'))).rejects.toThrow(/base_model_name_or_path.*baseModelNameOrPath/);
    const explicit = getPeftModel(await randomCausalLM('llama'), loraConfig({ baseModelNameOrPath: 'my/base' }));
    await explicit.saveAdapter(join(tmp, 'explicit'));
    const config = JSON.parse(await readFile(join(tmp, 'explicit', 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.base_model_name_or_path).toBe('my/base');
    anonymous.dispose();
    explicit.dispose();
  });
});
