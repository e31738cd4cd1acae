import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '@lora/models';
import { expectTensorsClose, randomCausalLM, setupTestBackend } from '@lora/models/test';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loraConfig } from './config/lora-config.js';
import { LoraLinear } from './layers/lora-linear.js';
import { saveMergedModel } from './merge.js';
import { getPeftModel, loadPeftModel } from './peft-model.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures');
let tmp = '';

beforeAll(async () => {
  await setupTestBackend();
  tmp = await mkdtemp(join(tmpdir(), 'lora-peft-model-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const ids = () =>
  tf.tensor2d(
    [
      [3, 7, 1, 9, 4],
      [5, 2, 8, 6, 0],
    ],
    [2, 5],
    'int32',
  );

describe('getPeftModel', () => {
  it('targets q_proj/v_proj by default; step 0 equals the base; only adapter variables train', async () => {
    const base = await randomCausalLM('llama');
    const x = ids();
    const baseLogits = base.forward(x);
    const peft = getPeftModel(base, loraConfig());
    expect([...peft.loraLayers().keys()]).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.0.self_attn.v_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.1.self_attn.v_proj',
    ]);
    expect(peft.peftConfig().targetModules).toEqual(['q_proj', 'v_proj']);
    await expectTensorsClose(peft.forward(x), baseLogits, { rtol: 0, atol: 0 });
    const vars = peft.trainableVariables();
    expect(vars).toHaveLength(8);
    const layerVars = new Set(
      [...peft.loraLayers().values()].flatMap((l) => {
        const w = l.weights('default');
        return [w.a.name, w.b.name];
      }),
    );
    expect(vars.every((v) => layerVars.has(v.name))).toBe(true);
    peft.dispose();
  });

  it('one training step: gradients flow only to lora_A/lora_B; memory stable across forwards and steps', async () => {
    const peft = getPeftModel(
      await randomCausalLM('qwen3'),
      loraConfig({ targetModules: 'all-linear', useDora: true, initLoraWeights: false }),
    );
    const x = ids();
    const vars = peft.trainableVariables();
    expect(vars).toHaveLength(2 * 7 * 3); // 2 layers × 7 linears × (A, B, magnitude); Qwen3 tiny ties lm_head
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(peft.forward(x))) as tf.Scalar);
      expect(new Set(Object.keys(grads))).toEqual(new Set(vars.map((v) => v.name)));
      tf.tidy(() => {
        for (const v of vars) v.assign(v.sub((grads[v.name] as tf.Tensor).mul(1e-2)));
      });
      tf.dispose([value, ...Object.values(grads)]);
    };
    step();
    peft.forward(x).dispose();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2; i++) {
      step();
      peft.forward(x).dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
    peft.dispose();
  });

  it('unknown targets fail with a clear message', async () => {
    const base = await randomCausalLM('llama');
    expect(() => getPeftModel(base, loraConfig({ targetModules: ['qkv'] }))).toThrow(/Target modules \[qkv\] not found/);
    // One typo beside a valid name is an error too (PEFT would silently adapt q_proj only).
    expect(() => getPeftModel(base, loraConfig({ targetModules: ['q_proj', 'bogus'] }))).toThrow(
      /Invalid argument `LoraConfig.targetModules`: `bogus` matches no module of the base model \(its adaptable modules are named: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/,
    );
    expect(base.linearModules().every((s) => !(s.get() instanceof LoraLinear))).toBe(true);
    base.dispose();
  });
});

describe('PeftModel with several adapters', () => {
  it('adapterFiles() holds the bytes saveAdapter writes, and loadPeftModel / loadAdapter accept them', async () => {
    const dir = join(FIXTURES, 'tiny-llama');
    const x = ids();
    const peft = getPeftModel((await loadModel(dir)).model, loraConfig({ targetModules: 'all-linear', initLoraWeights: false }), {
      seed: 5,
    });
    const logits = peft.forward(x);
    const adapterDir = join(tmp, 'adapter-files');
    await peft.saveAdapter(adapterDir);
    const files = await peft.adapterFiles();
    expect(Object.keys(files).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors']);
    expect(files['adapter_config.json']).toBe(await readFile(join(adapterDir, 'adapter_config.json'), 'utf8'));
    expect(Buffer.from(files['adapter_model.safetensors']).equals(await readFile(join(adapterDir, 'adapter_model.safetensors')))).toBe(
      true,
    );

    const loaded = await loadPeftModel((await loadModel(dir)).model, files);
    await expectTensorsClose(loaded.forward(x), logits, { rtol: 0, atol: 0 });
    await loaded.loadAdapter(files, { adapterName: 'again' });
    loaded.setAdapter('again');
    await expectTensorsClose(loaded.forward(x), logits, { rtol: 0, atol: 0 });
    const broken = { ...files, 'adapter_config.json': '{"peft_type": "LORA", "r": 0}' };
    await expect(loadPeftModel((await loadModel(dir)).model, broken)).rejects.toThrow(/adapter_config\.json/);
    loaded.dispose();
    peft.dispose();
  });
  it('adds, switches, disables (exact base outputs), deletes', async () => {
    const base = await randomCausalLM('llama');
    const x = ids();
    const baseLogits = base.forward(x);
    const peft = getPeftModel(base, loraConfig({ initLoraWeights: false }), { adapterName: 'a', seed: 1 });
    const a = peft.forward(x);
    peft.addAdapter('b', loraConfig({ targetModules: 'all-linear', r: 2, initLoraWeights: false }), { seed: 2 });
    expect(peft.activeAdapter).toBe('a');
    await expectTensorsClose(peft.forward(x), a, { rtol: 0, atol: 0 });
    peft.setAdapter('b');
    const b = peft.forward(x);
    expect((await tf.max(tf.abs(tf.sub(a, b))).data())[0]).toBeGreaterThan(1e-3);
    expect(peft.trainableVariables()).toHaveLength(2 * 2 * 7);
    const disabled = peft.disableAdapter(() => peft.forward(x));
    await expectTensorsClose(disabled, baseLogits, { rtol: 0, atol: 0 });
    await expectTensorsClose(peft.forward(x), b, { rtol: 0, atol: 0 });
    peft.deleteAdapter('b');
    expect(peft.adapterNames).toEqual(['a']);
    expect(peft.activeAdapter).toBe('a');
    await expectTensorsClose(peft.forward(x), a, { rtol: 0, atol: 0 });
    peft.dispose();
  });

  it('saves and loads an adapter next to another one; mergeAndUnload + saveMergedModel reproduce the adapter logits', async () => {
    const dir = join(FIXTURES, 'tiny-llama');
    const { model } = await loadModel(dir);
    const x = ids();
    const peft = getPeftModel(model, loraConfig({ targetModules: 'all-linear', useRslora: true, initLoraWeights: false }), { seed: 3 });
    const logits = peft.forward(x);
    const adapterDir = join(tmp, 'adapter');
    await peft.saveAdapter(adapterDir);
    const config = JSON.parse(await readFile(join(adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ inference_mode: true, peft_version: '0.21.2', use_rslora: true, peft_type: 'LORA' });

    const other = await loadPeftModel((await loadModel(dir)).model, adapterDir, { adapterName: 'first' });
    expect(other.trainableVariables()).toHaveLength(0);
    other.addAdapter('second', loraConfig({ initLoraWeights: false }));
    await expectTensorsClose(other.forward(x), logits, { rtol: 1e-6, atol: 1e-6 });
    await other.loadAdapter(adapterDir, { adapterName: 'third', isTrainable: true });
    other.setAdapter('third');
    expect(other.trainableVariables().length).toBeGreaterThan(0);
    await expectTensorsClose(other.forward(x), logits, { rtol: 1e-6, atol: 1e-6 });
    other.dispose();

    const merged = await peft.mergeAndUnload();
    expect(merged.linearModules().some((s) => s.get() instanceof LoraLinear)).toBe(false);
    await expectTensorsClose(merged.forward(x), logits, { rtol: 1e-5, atol: 1e-5 });
    await saveMergedModel(merged, join(tmp, 'merged'), { base: dir });
    const reloaded = (await loadModel(join(tmp, 'merged'))).model;
    await expectTensorsClose(reloaded.forward(x), logits, { rtol: 1e-5, atol: 1e-5 });
    reloaded.dispose();
    merged.dispose();
  });

  it('loading names the tensor whose shape does not match', async () => {
    const adapterDir = join(FIXTURES, 'peft', 'llama-lora');
    const wrongBase = await randomCausalLM('llama', {
      overrides: {
        hidden_size: 64,
        intermediate_size: 128,
        num_attention_heads: 4,
        num_key_value_heads: 4,
        head_dim: 16,
        num_hidden_layers: 3,
      },
    });
    await expect(loadPeftModel(wrongBase, adapterDir)).rejects.toThrow(
      /v_proj\.lora_B\.weight.*shape \[32, 8\] does not match the model: expected \[64, 8\]/,
    );
    expect(wrongBase.linearModules().every((s) => !(s.get() instanceof LoraLinear))).toBe(true);
    wrongBase.dispose();
  });
});
