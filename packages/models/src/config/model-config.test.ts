import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { UnsupportedModelError } from '../errors/unsupported-model-error.js';
import { parseModelConfig } from './model-config.js';

const CONFIGS = join(import.meta.dirname, '../../../../fixtures/configs');
const load = (file: string) => parseModelConfig(JSON.parse(readFileSync(join(CONFIGS, file), 'utf8')), { file });

describe('parseModelConfig on real checkpoint configs', () => {
  it('Llama 3.1 8B: GQA, llama3 rope scaling, eos list', () => {
    const c = load('Llama-3.1-8B.config.json');
    expect(c).toMatchObject({
      modelType: 'llama',
      hiddenSize: 4096,
      numHiddenLayers: 32,
      numAttentionHeads: 32,
      numKeyValueHeads: 8,
      headDim: 128,
      tieWordEmbeddings: false,
    });
    expect(c.rope.full_attention).toEqual({
      type: 'llama3',
      theta: 500000,
      factor: 8,
      lowFreqFactor: 1,
      highFreqFactor: 4,
      originalMaxPositionEmbeddings: 8192,
    });
    expect(c.layerTypes.every((t) => t === 'full_attention')).toBe(true);
  });

  it('Llama 3.2 3B: tied embeddings, factor 32', () => {
    const c = load('Llama-3.2-3B.config.json');
    expect(c).toMatchObject({ tieWordEmbeddings: true, headDim: 128, numKeyValueHeads: 8 });
    expect(c.rope.full_attention.factor).toBe(32);
  });

  it('Qwen3 4B (and 2507): explicit head_dim, tied, no sliding window', () => {
    for (const file of ['Qwen3-4B.config.json', 'Qwen3-4B-Instruct-2507.config.json']) {
      const c = load(file);
      expect(c).toMatchObject({
        modelType: 'qwen3',
        hiddenSize: 2560,
        headDim: 128,
        numAttentionHeads: 32,
        numKeyValueHeads: 8,
        tieWordEmbeddings: true,
        slidingWindow: undefined,
      });
      expect(c.layerTypes.every((t) => t === 'full_attention')).toBe(true);
    }
    expect(load('Qwen3-4B-Instruct-2507.config.json').rope.full_attention.theta).toBe(5_000_000);
  });

  it('Gemma 3 1B: 5 local : 1 global, local rope base 10k, global 1M, query_pre_attn_scalar', () => {
    const c = load('gemma-3-1b-it.config.json');
    expect(c.modelType).toBe('gemma3_text');
    expect(c.layerTypes.slice(0, 6)).toEqual([
      'sliding_attention',
      'sliding_attention',
      'sliding_attention',
      'sliding_attention',
      'sliding_attention',
      'full_attention',
    ]);
    expect(c.rope.sliding_attention.theta).toBe(10000);
    expect(c.rope.full_attention.theta).toBe(1_000_000);
    expect(c.hiddenAct).toBe('gelu_pytorch_tanh');
    expect(c.queryPreAttnScalar).toBe(256);
    expect(c.slidingWindow).toBe(512);
  });

  it('parses every transformers-5-written config identically to its v4 original where both exist', () => {
    const dir = join(CONFIGS, 'v5-written');
    const files = readdirSync(dir).filter((f) => f.endsWith('.config.json'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    for (const file of files) {
      const v5 = parseModelConfig(JSON.parse(readFileSync(join(dir, file), 'utf8')), { file });
      const v4 = load(file);
      expect(v5.rope).toEqual(v4.rope);
      expect(v5.layerTypes).toEqual(v4.layerTypes);
      expect(v5.headDim).toBe(v4.headDim);
    }
  });

  it('reads the text part of a multimodal gemma3 config', () => {
    const json = JSON.parse(readFileSync(join(CONFIGS, '../tiny-gemma3-mm/config.json'), 'utf8'));
    const c = parseModelConfig(json, { file: 'config.json' });
    expect(c.modelType).toBe('gemma3_text');
    expect(c.architecture).toBe('Gemma3ForConditionalGeneration');
  });
});

describe('parseModelConfig errors', () => {
  const base = { model_type: 'llama', vocab_size: 10, hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1, num_attention_heads: 2 };

  it('rejects an unsupported model_type, listing the supported ones', () => {
    const err = (() => {
      try {
        parseModelConfig({ ...base, model_type: 'gpt2' }, { file: 'x/config.json' });
      } catch (e) {
        return e;
      }
    })();
    expect(UnsupportedModelError.isInstance(err)).toBe(true);
    expect((err as Error).message).toMatch(
      /x\/config\.json: model_type "gpt2" is not supported\. Supported: llama, mistral, qwen3, gemma3_text/,
    );
  });

  it('names the malformed field', () => {
    expect(() => parseModelConfig({ ...base, hidden_size: 'big' }, { file: 'config.json' })).toThrow(FileFormatError);
    expect(() => parseModelConfig({ ...base, hidden_size: 'big' }, { file: 'config.json' })).toThrow(/\(hidden_size\)/);
  });

  it('rejects unsupported rope types and activations clearly', () => {
    expect(() => parseModelConfig({ ...base, rope_scaling: { rope_type: 'mrope', factor: 4 } }, { file: 'c.json' })).toThrow(
      /rope type "mrope" \(`rope_scaling`\) is not supported\. Supported: default, linear, llama3, dynamic, yarn, longrope/,
    );
    expect(() => parseModelConfig({ ...base, hidden_act: 'relu' }, { file: 'c.json' })).toThrow(/activation "relu"/);
  });

  it('requires the fields each rope type needs, naming them with their path', () => {
    const error = (patch: Record<string, unknown>) => {
      try {
        parseModelConfig({ ...base, ...patch }, { file: 'c.json' });
      } catch (e) {
        return e as Error;
      }
      throw new Error('accepted');
    };
    expect(error({ rope_scaling: { type: 'linear' } }).message).toMatch(
      /c\.json \(rope_scaling\.factor\): .*rope type "linear" needs `factor`/,
    );
    expect(error({ rope_scaling: { rope_type: 'dynamic' } }).message).toMatch(/\(rope_scaling\.factor\)/);
    expect(error({ rope_scaling: { rope_type: 'yarn', original_max_position_embeddings: 8 } }).message).toMatch(/\(rope_scaling\.factor\)/);
    const llama3 = error({ rope_parameters: { rope_type: 'llama3', rope_theta: 5e5, factor: 8 } });
    expect(FileFormatError.isInstance(llama3)).toBe(true);
    expect(llama3.message).toMatch(
      /`rope_parameters\.low_freq_factor`: rope type "llama3" needs `low_freq_factor`; `rope_parameters\.high_freq_factor`/,
    );
    expect(error({ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1 } }).message).toMatch(
      /\(rope_scaling\.high_freq_factor\): .*greater than `low_freq_factor`/,
    );
    expect(error({ rope_scaling: { rope_type: 'longrope', long_factor: [1, 1] } }).message).toMatch(/\(rope_scaling\.short_factor\)/);
    // head_dim 4: two factors per list
    const wrongLength = error({ rope_scaling: { rope_type: 'longrope', short_factor: [1, 1], long_factor: [1, 2, 3] } });
    expect(FileFormatError.isInstance(wrongLength)).toBe(true);
    expect(wrongLength).toMatchObject({ field: 'rope_scaling.long_factor' });
    expect(wrongLength.message).toMatch(/`rope_scaling\.long_factor` has 3 entries; .* head_dim \/ 2 = 2/);
    expect(error({ rope_scaling: { rope_type: 'yarn', factor: 4, beta_fast: 'fast' } }).message).toMatch(/\(rope_scaling\.beta_fast\)/);
    expect(error({ rope_scaling: { rope_type: 'yarn', factor: 4, rope_theta: 1 } }).message).toMatch(/needs `rope_theta` > 1/);
    const lnOne = { rope_type: 'longrope', short_factor: [1, 1], long_factor: [1, 1], original_max_position_embeddings: 1, factor: 4 };
    expect(error({ rope_scaling: lnOne }).message).toMatch(/c\.json \(rope_scaling\): .*non-finite attention factor/);
    const perType = error({
      model_type: 'gemma3_text',
      sliding_window: 4,
      rope_parameters: { full_attention: { rope_type: 'yarn' }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } },
    });
    expect(perType.message).toMatch(/\(rope_parameters\.full_attention\.factor\)/);
  });

  it('fills the defaults transformers derives for yarn and longrope', () => {
    const yarn = parseModelConfig(
      {
        ...base,
        max_position_embeddings: 64,
        rope_scaling: { rope_type: 'yarn', factor: null, original_max_position_embeddings: 16, mscale: 2, mscale_all_dim: 1 },
      },
      { file: 'c.json' },
    ).rope.full_attention;
    expect(yarn).toMatchObject({ factor: 4, betaFast: 32, betaSlow: 1, truncate: true });
    expect(yarn.attentionFactor).toBeCloseTo((0.2 * Math.log(4) + 1) / (0.1 * Math.log(4) + 1), 14);
    const longrope = parseModelConfig(
      {
        ...base,
        max_position_embeddings: 64,
        rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [2, 3], attention_factor: 1.5 },
      },
      { file: 'c.json' },
    ).rope.full_attention;
    // no original length: max_position_embeddings, so factor 1
    expect(longrope).toMatchObject({
      type: 'longrope',
      factor: 1,
      originalMaxPositionEmbeddings: 64,
      attentionFactor: 1.5,
      longFactor: [2, 3],
    });
  });

  it('rejects heads that do not divide and sliding layers without a window', () => {
    expect(() => parseModelConfig({ ...base, num_key_value_heads: 3 }, { file: 'c.json' })).toThrow(/multiple of `num_key_value_heads`/);
    expect(() => parseModelConfig({ ...base, layer_types: ['sliding_attention'] }, { file: 'c.json' })).toThrow(/need `sliding_window`/);
  });

  it('range-checks sizes instead of allocating them (num_hidden_layers 1e12, max_position_embeddings 1, rms_norm_eps 1e9)', () => {
    const message = (patch: Record<string, unknown>) => {
      try {
        parseModelConfig({ ...base, ...patch }, { file: 'm/config.json' });
      } catch (error) {
        expect(FileFormatError.isInstance(error)).toBe(true);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(message({ num_hidden_layers: 1e12 })).toBe(
      'm/config.json (num_hidden_layers): `num_hidden_layers`: 1000000000000 is not plausible (at most 1,024)',
    );
    expect(message({ max_position_embeddings: 1 })).toMatch(/^m\/config\.json \(max_position_embeddings\): .*must be at least 2/);
    expect(message({ rms_norm_eps: 1e9 })).toMatch(/^m\/config\.json \(rms_norm_eps\): .*1000000000 is not plausible \(at most 0\.1\)/);
    expect(message({ vocab_size: 2 ** 31 })).toMatch(/\(vocab_size\)/);
    expect(message({ hidden_size: 1e9 })).toMatch(/\(hidden_size\)/);
    expect(message({ rope_theta: Number.MAX_VALUE })).toMatch(/\(rope_theta\)/);
    expect(message({ eos_token_id: [2, 70000] })).toMatch(/\(eos_token_id\[1\]\): .*token id 70000 is outside the vocabulary/);
  });

  // Both found by the config.json fuzz target (model-config.fuzz.test.ts).
  it('rejects negative token ids, except the `pad_token_id: -1` old Llama conversions write for "none"', () => {
    expect(() => parseModelConfig({ ...base, bos_token_id: -5 }, { file: 'c.json' })).toThrow(/\(bos_token_id\).*at least 0/);
    expect(() => parseModelConfig({ ...base, eos_token_id: [1, -2] }, { file: 'c.json' })).toThrow(/\(eos_token_id/);
    expect(parseModelConfig({ ...base, pad_token_id: -1 }, { file: 'c.json' }).padTokenId).toBeUndefined();
  });

  it('validates per-layer-type rope_parameters (a bad rope_theta inside full_attention is not passed through)', () => {
    const perType = (full: unknown) => ({
      ...base,
      model_type: 'gemma3_text',
      sliding_window: 4,
      rope_parameters: { full_attention: full, sliding_attention: { rope_type: 'default', rope_theta: 10000 } },
    });
    expect(parseModelConfig(perType({ rope_type: 'default', rope_theta: 1e6 }), { file: 'c.json' }).rope.full_attention.theta).toBe(1e6);
    expect(() => parseModelConfig(perType({ rope_type: 'default', rope_theta: false }), { file: 'c.json' })).toThrow(/\(rope_parameters/);
  });
});
