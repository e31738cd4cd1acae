import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { loraConfig, parseLoraConfig, serializeLoraConfig } from './lora-config.js';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures/peft');
const CASES = [
  'llama-lora',
  'llama-rslora-all-linear',
  'llama-dora-layers',
  'qwen3-lora-regex',
  'qwen3-dora-rslora',
  'gemma3-mm-lora',
  'gemma3-mm-dora-all-linear',
];

describe('loraConfig', () => {
  it("has PEFT 0.21's defaults", () => {
    const c = loraConfig();
    expect(c).toMatchObject({
      r: 8,
      loraAlpha: 8,
      loraDropout: 0,
      targetModules: null,
      bias: 'none',
      useRslora: false,
      useDora: false,
      initLoraWeights: true,
      taskType: 'CAUSAL_LM',
      peftType: 'LORA',
      inferenceMode: false,
      modulesToSave: null,
      trainableTokenIndices: null,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('rejects invalid and unsupported options naming the camelCase field', () => {
    expect(() => loraConfig({ r: 0 })).toThrow(/`r`/);
    expect(() => loraConfig({ targetModules: '.*q_proj', layersToTransform: [0] })).toThrow(
      /`layers_to_transform` cannot be used when `target_modules` is a str/,
    );
    expect(() => loraConfig({ layersPattern: 'layers' })).toThrow(/`layers_to_transform` must also be specified/);
    expect(loraConfig({ bias: 'lora_only' }).bias).toBe('lora_only');
    expect(() => loraConfig({ bias: 'some' as never })).toThrow(/`bias`/);
    expect(() => loraConfig({ modulesToSave: ['lm_head'], trainableTokenIndices: { lm_head: [1] } })).toThrow(
      /`lm_head` is in both `modules_to_save` and `trainable_token_indices`/,
    );
    expect(() => loraConfig({ loraDropout: 1 })).toThrow(InvalidArgumentError);
    expect(() => loraConfig({ initLoraWeights: 'loftq' as never })).toThrow(/`init_lora_weights` "loftq" is not supported/);
    expect(() => loraConfig({ r: 1e12 })).toThrow(
      /Invalid argument `LoraConfig.r`: `r`: 1000000000000 is not a plausible rank \(at most 65536/,
    );
    expect(() => loraConfig({ loraAlpha: Number.MAX_VALUE })).toThrow(/`loraAlpha`: .* is not a plausible alpha/);
  });

  it('refuses two spellings of one option (lora_alpha beside loraAlpha)', () => {
    expect(() => loraConfig({ loraAlpha: 32, lora_alpha: 16 } as never)).toThrow(
      'Invalid argument `LoraConfig.loraAlpha`: conflicting keys `loraAlpha` and `lora_alpha` name the same option; keep one.',
    );
  });
});

describe('parseLoraConfig', () => {
  it.each(CASES)('%s: parses the file PEFT wrote and re-serialises it byte for byte', (name) => {
    const text = readFileSync(join(FIXTURES, name, 'adapter_config.json'), 'utf8');
    const warnings: string[] = [];
    const config = parseLoraConfig(text, { file: name }, { onWarning: (m) => warnings.push(m) });
    expect(warnings).toEqual([]);
    expect(serializeLoraConfig(config)).toBe(text);
  });

  it('reads snake_case fields into camelCase', () => {
    const config = parseLoraConfig(readFileSync(join(FIXTURES, 'llama-rslora-all-linear', 'adapter_config.json'), 'utf8'), { file: 'x' });
    expect(config.useRslora).toBe(true);
    expect(config.rankPattern).toEqual({ gate_proj: 2, 'layers\\.1\\.mlp\\.down_proj': 4 });
    expect(config.alphaPattern).toEqual({ o_proj: 32 });
    expect(config.baseModelNameOrPath).toBe('fixtures/tiny-llama');
  });

  it('keeps `auto_mapping` (PEFT writes it without a task type) and checks its shape', () => {
    const config = parseLoraConfig(readFileSync(join(FIXTURES, 'gemma3-mm-lora', 'adapter_config.json'), 'utf8'), { file: 'x' });
    expect(config.taskType).toBeNull();
    expect(config.autoMapping?.base_model_class).toBe('Gemma3ForConditionalGeneration');
    expect(() => parseLoraConfig(JSON.stringify({ auto_mapping: { base_model_class: 3 } }), { file: 'a.json' })).toThrow(/auto_mapping/);
  });

  it('warns on unknown keys, fails on PEFT features we lack when they are turned on', () => {
    const warnings: string[] = [];
    parseLoraConfig(JSON.stringify({ r: 4, brand_new_option: 1 }), { file: 'a.json' }, { onWarning: (m) => warnings.push(m) });
    expect(warnings.join()).toMatch(/unknown key `brand_new_option`/);
    expect(() => parseLoraConfig(JSON.stringify({ use_qalora: true }), { file: 'a.json' })).toThrow(FileFormatError);
    expect(() => parseLoraConfig(JSON.stringify({ use_qalora: true }), { file: 'a.json' })).toThrow(/`use_qalora`/);
    expect(() => parseLoraConfig(JSON.stringify({ peft_type: 'IA3' }), { file: 'a.json' })).toThrow(/peft_type/);
    expect(() => parseLoraConfig('{', { file: 'a.json' })).toThrow(/a.json: invalid JSON/);
  });

  it('accepts the auto_mapping PEFT writes when task_type is unset, without a warning', () => {
    const warnings: string[] = [];
    const autoMapping = { base_model_class: 'LlamaForCausalLM', parent_library: 'transformers.models.llama.modeling_llama' };
    const config = parseLoraConfig(
      JSON.stringify({ r: 4, task_type: null, auto_mapping: autoMapping }),
      { file: 'a.json' },
      { onWarning: (m) => warnings.push(m) },
    );
    expect(config.r).toBe(4);
    expect(warnings).toEqual([]);
  });
});
