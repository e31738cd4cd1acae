import { describe, expect, it } from 'vitest';
import { loraConfig } from '../config/lora-config.js';
import { isTargetModule, patternValue, pythonRegex, resolveTargetModules } from './target-modules.js';

const PATHS = [0, 1, 2]
  .flatMap((i) => ['self_attn.q_proj', 'self_attn.k_proj', 'mlp.down_proj'].map((m) => `model.layers.${i}.${m}`))
  .concat('lm_head');

const selected = (options: Parameters<typeof loraConfig>[0]) => {
  const config = loraConfig(options);
  const targets = resolveTargetModules(config, 'llama', PATHS);
  return PATHS.filter((p) => isTargetModule(config, targets, p));
};

describe('target module matching (PEFT check_target_module_exists)', () => {
  it('matches list entries by exact path or dotted suffix', () => {
    expect(selected({ targetModules: ['q_proj', 'model.layers.2.mlp.down_proj'] })).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.1.self_attn.q_proj',
      'model.layers.2.self_attn.q_proj',
      'model.layers.2.mlp.down_proj',
    ]);
    expect(selected({ targetModules: ['proj'] })).toEqual([]);
  });

  it('uses the model type default for null and excludes lm_head from all-linear', () => {
    expect(resolveTargetModules(loraConfig(), 'qwen3', PATHS)).toEqual(['q_proj', 'v_proj']);
    expect(selected({ targetModules: 'all-linear' })).toEqual(PATHS.slice(0, -1));
    expect(() => resolveTargetModules(loraConfig(), 'gpt2', PATHS)).toThrow(/no default target modules for model type "gpt2"/);
  });

  it('treats a string as a full-match regex (Python syntax accepted)', () => {
    expect(selected({ targetModules: '.*\\.(?P<name>q|k)_proj' })).toHaveLength(6);
    expect(selected({ targetModules: 'q_proj' })).toEqual([]);
    expect(pythonRegex('a(?P<x>b)(?P=x)', { fullMatch: true }).test('abb')).toBe(true);
  });

  it('applies exclude_modules (list or regex) and layers_to_transform / layers_pattern', () => {
    expect(selected({ targetModules: ['q_proj', 'k_proj'], excludeModules: ['k_proj'] })).toHaveLength(3);
    expect(selected({ targetModules: ['q_proj', 'k_proj'], excludeModules: '.*layers\\.0\\..*' })).toHaveLength(4);
    expect(selected({ targetModules: ['q_proj'], layersToTransform: [0, 2] })).toEqual([
      'model.layers.0.self_attn.q_proj',
      'model.layers.2.self_attn.q_proj',
    ]);
    expect(selected({ targetModules: ['q_proj'], layersToTransform: 1, layersPattern: 'layers' })).toEqual([
      'model.layers.1.self_attn.q_proj',
    ]);
    expect(selected({ targetModules: ['q_proj'], layersToTransform: 1, layersPattern: 'blocks' })).toEqual([]);
  });

  it('rank_pattern / alpha_pattern keys match the end of the path, first key wins', () => {
    const pattern = { 'layers\\.1\\.mlp\\.down_proj': 4, down_proj: 2 };
    expect(patternValue(pattern, 'model.layers.1.mlp.down_proj', 8)).toBe(4);
    expect(patternValue(pattern, 'model.layers.0.mlp.down_proj', 8)).toBe(2);
    expect(patternValue(pattern, 'model.layers.0.self_attn.q_proj', 8)).toBe(8);
    expect(patternValue({ proj: 3 }, 'model.layers.0.self_attn.q_proj', 8)).toBe(8);
  });
});
