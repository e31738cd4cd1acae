import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { type CausalLM, loadModel, selectBackend } from '@lora/models';
import { SafetensorsReader, openWeights } from '@lora/models/internal';
import { expectArraysClose } from '@lora/models/test';
import { getPeftModel, loadPeftModel, loraConfig } from '@lora/peft';
import { loadQuantizedModel, quantizeModel } from '@lora/quant';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';

// The comparison with transformers + PEFT (merged folder vs PeftModel.from_pretrained on the
// original base) is tools/parity/peft/check_merge.py; here the merged folder is reloaded with @lora.
const assets = process.env.LORA_ASSETS_DIR;
const haveStories = assets !== undefined && existsSync(join(assets, 'models', 'stories260K'));
const env = { LORA_ASSETS_DIR: assets, HF_HUB_OFFLINE: '1' };
const FIXTURES = join(import.meta.dirname, '../../../../fixtures');
const TINY = join(FIXTURES, 'tiny-llama');
const ADAPTER = join(FIXTURES, 'peft', 'llama-rslora-all-linear');
const IDS = [1, 5, 9, 42, 3, 17, 100, 7];

let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lora-merge-'));
  await selectBackend({ backend: (process.env.LORA_TEST_BACKEND ?? 'wasm') as 'wasm', silent: true });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function logitsOf(model: CausalLM, ids: number[] = IDS): Promise<Float32Array> {
  const out = tf.tidy(() => model.forward(tf.tensor2d([ids], [1, ids.length], 'int32')));
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

async function reloadedLogits(path: string): Promise<Float32Array> {
  const { model } = await loadModel(path);
  try {
    return await logitsOf(model);
  } finally {
    model.dispose();
  }
}

async function peftLogits(base: CausalLM, adapter: string): Promise<Float32Array> {
  const peft = await loadPeftModel(base, adapter);
  try {
    return await logitsOf(peft);
  } finally {
    peft.dispose();
  }
}

describe('lora merge', () => {
  it('merges an rsLoRA all-linear adapter into a Hugging Face folder: reloads with base+adapter logits, copies side files', async () => {
    const out = join(dir, 'tiny');
    const { code, stdout, stderr } = await runCaptured(['merge', '--model', TINY, '--adapter', ADAPTER, '--out', out], env);
    expect(stderr).not.toContain('unexpected');
    expect(code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    expect(stdout).toContain(join(out, 'model.safetensors'));
    expect(readdirSync(dir).filter((f) => f.includes('.merge-'))).toEqual([]);
    expect(readFileSync(join(out, 'generation_config.json'))).toEqual(readFileSync(join(TINY, 'generation_config.json')));
    const expected = await peftLogits((await loadModel(TINY)).model, ADAPTER);
    const base = await reloadedLogits(TINY);
    const merged = await reloadedLogits(out);
    expectArraysClose(merged, expected, { rtol: 1e-5, atol: 1e-5 });
    // The adapter changes the logits, so the check above can fail.
    expect(Math.max(...merged.map((v, i) => Math.abs(v - (base[i] as number))))).toBeGreaterThan(1e-3);
  });

  it('writes bfloat16 in shards with an index when asked, and the shards reload', async () => {
    const out = join(dir, 'tiny-bf16');
    const { code, stderr } = await runCaptured(
      ['merge', '-m', TINY, '-a', ADAPTER, '-o', out, '--dtype', 'bfloat16', '--max-shard-size', '200KB'],
      env,
    );
    expect(stderr).not.toContain('unexpected');
    expect(code).toBe(0);
    const files = readdirSync(out).sort();
    const shards = files.filter((f) => /^model-\d{5}-of-\d{5}\.safetensors$/.test(f));
    expect(shards.length).toBeGreaterThan(1);
    expect(files).toContain('model.safetensors.index.json');
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8')) as {
      metadata: { total_size: number };
      weight_map: Record<string, string>;
    };
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.dtype).toBe('bfloat16');
    const reader = await SafetensorsReader.open(join(out, shards[0] as string));
    try {
      for (const key of reader.keys()) expect(reader.dtype(key)).toBe('BF16');
    } finally {
      await reader.close();
    }
    // Each tensor is the float32 merge rounded to bfloat16 (relative error at most 2^-8, the unit roundoff).
    const f32 = join(dir, 'tiny-f32');
    expect((await runCaptured(['merge', '-m', TINY, '-a', ADAPTER, '-o', f32], env)).code).toBe(0);
    const [exact, rounded] = [await openWeights(f32), await openWeights(out)];
    try {
      expect([...rounded.keys()].sort()).toEqual([...exact.keys()].sort());
      for (const key of exact.keys()) {
        const [x, y] = [(await exact.get(key)).data as Float32Array, (await rounded.get(key)).data as Float32Array];
        const worst = Math.max(...x.map((v, i) => Math.abs((y[i] as number) - v) - 2 ** -8 * Math.abs(v)));
        expect(worst, key).toBeLessThanOrEqual(0);
        expect(
          y.some((v, i) => v !== x[i]),
          key,
        ).toBe(true);
      }
    } finally {
      await exact.close();
      await rounded.close();
    }
    expect((await loadModel(out)).config.numHiddenLayers).toBe(3);
  });

  it('merges into an NF4 (bitsandbytes) base: dequantized + adapter, no quantization state left', async () => {
    const nf4 = join(FIXTURES, 'quant', 'tiny-llama-nf4');
    const lora = join(FIXTURES, 'peft', 'llama-lora');
    const out = join(dir, 'qlora');
    const { code, stderr } = await runCaptured(['merge', '--model', nf4, '--adapter', lora, '--out', out], env);
    expect(stderr).not.toContain('unexpected');
    expect(code).toBe(0);
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config.quantization_config).toBeUndefined();
    expect(config.dtype).toBe('float32');
    const reader = await SafetensorsReader.open(join(out, 'model.safetensors'));
    try {
      expect(reader.keys().filter((k) => /absmax|quant_map|quant_state/.test(k))).toEqual([]);
      expect(reader.dtype('model.layers.0.self_attn.q_proj.weight')).toBe('F32');
    } finally {
      await reader.close();
    }
    const expected = await peftLogits((await loadQuantizedModel(nf4)).model, lora);
    expectArraysClose(await reloadedLogits(out), expected, { rtol: 1e-5, atol: 1e-5 });
  });

  it('--quantize nf4 merges onto the 4-bit weights a QLoRA recipe trained against; refused on a 4-bit checkpoint', async () => {
    const lora = join(FIXTURES, 'peft', 'llama-lora');
    const out = join(dir, 'quantize');
    const { code, stderr } = await runCaptured(['merge', '-m', TINY, '-a', lora, '-o', out, '--quantize', 'nf4'], env);
    expect(stderr).not.toContain('unexpected');
    expect(code).toBe(0);
    const { model } = await loadModel(TINY);
    await quantizeModel(model, { type: 'nf4' });
    const expected = await peftLogits(model, lora);
    const merged = await reloadedLogits(out);
    expectArraysClose(merged, expected, { rtol: 1e-5, atol: 1e-5 });
    const dense = await peftLogits((await loadModel(TINY)).model, lora);
    expect(Math.max(...merged.map((v, i) => Math.abs(v - (dense[i] as number))))).toBeGreaterThan(1e-3);
    const twice = await runCaptured(
      ['merge', '-m', join(FIXTURES, 'quant', 'tiny-llama-nf4'), '-a', lora, '-o', join(dir, 'twice'), '--quantize', 'nf4'],
      env,
    );
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain('already a 4-bit checkpoint');
  });

  it.skipIf(!haveStories)('merges into stories260K (llama2.c): tokenizer written, logits equal to base+adapter', async () => {
    const { model } = await loadModel(join(assets as string, 'models', 'stories260K'), { nameOrPath: 'stories260K' });
    const peft = getPeftModel(model, loraConfig({ r: 4, loraAlpha: 8, targetModules: 'all-linear', initLoraWeights: false }), { seed: 7 });
    const adapter = join(dir, 'stories-adapter');
    await peft.saveAdapter(adapter);
    const adapterConfig = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(adapterConfig.base_model_name_or_path).toBe('stories260K');
    const expected = await logitsOf(peft);
    peft.dispose();

    const out = join(dir, 'stories');
    const { code, stderr } = await runCaptured(['merge', '--model', 'stories260K', '--adapter', adapter, '--out', out], env);
    expect(stderr).not.toContain('unexpected');
    expect(code).toBe(0);
    expect(readdirSync(out).sort()).toEqual([
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ]);
    // Merged (W + s·BA) vs unmerged (xW + s·(xA)B) float32 rounding over 5 layers: ~1e-5.
    expectArraysClose(await reloadedLogits(out), expected, { rtol: 1e-4, atol: 1e-4 });
  });

  it('refuses a non-empty --out unless --overwrite, and replaces it whole with --overwrite', async () => {
    const out = join(dir, 'busy');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'keep.txt'), 'mine');
    const refused = await runCaptured(['merge', '--model', TINY, '--adapter', ADAPTER, '--out', out], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/busy is not empty \(keep\.txt\); pass --overwrite/);
    expect(readFileSync(join(out, 'keep.txt'), 'utf8')).toBe('mine');
    const replaced = await runCaptured(['merge', '--model', TINY, '--adapter', ADAPTER, '--out', out, '--overwrite'], env);
    expect(replaced.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'generation_config.json', 'model.safetensors']);
    const inside = await runCaptured(['merge', '--model', TINY, '--adapter', ADAPTER, '--out', join(TINY, 'merged')], env);
    expect(inside.code).toBe(1);
    expect(inside.stderr).toMatch(/overlaps --model/);
  });

  it('a bad adapter is a clear error, exit 1, and leaves no output behind', async () => {
    const out = join(dir, 'never');
    const missing = await runCaptured(['merge', '--model', TINY, '--adapter', join(dir, 'no-adapter'), '--out', out], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('adapter_config.json');

    const broken = join(dir, 'broken-adapter');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'adapter_config.json'), '{"peft_type": "LORA", "r": -1}');
    const badConfig = await runCaptured(['merge', '--model', TINY, '--adapter', broken, '--out', out], env);
    expect(badConfig.code).toBe(1);
    expect(badConfig.stderr).toMatch(/adapter_config\.json/);

    // A Qwen3 adapter on a Llama base of other shapes: the tensor that does not fit is named.
    const wrong = await runCaptured(['merge', '--model', TINY, '--adapter', join(FIXTURES, 'peft', 'qwen3-lora-regex'), '--out', out], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).not.toContain('unexpected');
    expect(wrong.stderr).toMatch(/lora_[AB]\.weight|target/);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.includes('.merge-'))).toEqual([]);
  });
});
