import { Rng } from '@lora/core';
import type { CausalLM } from '../architectures/causal-lm.js';
import { createCausalLM } from '../architectures/registry.js';
import { type ModelConfig, parseModelConfig } from '../config/model-config.js';
import { type HostTensor, MemoryWeightSource } from '../io/host-tensor.js';

/** A tiny HF `config.json` object of the given `model_type` (override any key). */
export function tinyConfigJson(
  modelType: 'llama' | 'mistral' | 'qwen3' | 'gemma3_text',
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  const base: Record<string, unknown> = {
    model_type: modelType,
    vocab_size: 64,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 128,
    rms_norm_eps: 1e-6,
    tie_word_embeddings: modelType === 'gemma3_text' || modelType === 'qwen3',
    bos_token_id: 1,
    eos_token_id: 2,
  };
  if (modelType === 'mistral') base.sliding_window = 4;
  if (modelType === 'qwen3') base.head_dim = 16;
  if (modelType === 'gemma3_text')
    Object.assign(base, {
      head_dim: 8,
      sliding_window: 4,
      layer_types: ['sliding_attention', 'full_attention'],
      query_pre_attn_scalar: 12,
    });
  return { ...base, ...overrides };
}

/** HF tensor names and PyTorch shapes of every weight `config` needs. */
export function weightShapes(config: ModelConfig): Map<string, number[]> {
  const { hiddenSize: dm, intermediateSize: ff, numAttentionHeads: h, numKeyValueHeads: kv, headDim: d, vocabSize: v } = config;
  const shapes = new Map<string, number[]>([
    ['model.embed_tokens.weight', [v, dm]],
    ['model.norm.weight', [dm]],
  ]);
  if (!config.tieWordEmbeddings) shapes.set('lm_head.weight', [v, dm]);
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    shapes.set(`${p}.self_attn.q_proj.weight`, [h * d, dm]);
    shapes.set(`${p}.self_attn.k_proj.weight`, [kv * d, dm]);
    shapes.set(`${p}.self_attn.v_proj.weight`, [kv * d, dm]);
    shapes.set(`${p}.self_attn.o_proj.weight`, [dm, h * d]);
    shapes.set(`${p}.mlp.gate_proj.weight`, [ff, dm]);
    shapes.set(`${p}.mlp.up_proj.weight`, [ff, dm]);
    shapes.set(`${p}.mlp.down_proj.weight`, [dm, ff]);
    shapes.set(`${p}.input_layernorm.weight`, [dm]);
    shapes.set(`${p}.post_attention_layernorm.weight`, [dm]);
    if (config.modelType === 'qwen3' || config.modelType === 'gemma3_text') {
      shapes.set(`${p}.self_attn.q_norm.weight`, [d]);
      shapes.set(`${p}.self_attn.k_norm.weight`, [d]);
    }
    if (config.modelType === 'gemma3_text') {
      shapes.set(`${p}.pre_feedforward_layernorm.weight`, [dm]);
      shapes.set(`${p}.post_feedforward_layernorm.weight`, [dm]);
    }
  }
  return shapes;
}

/** Random weights N(0, `std`²) (norm weights around 1) for `config`, seeded. */
export function randomWeights(config: ModelConfig, seed = 0, std = 0.2): MemoryWeightSource {
  const rng = new Rng(seed);
  const tensors = new Map<string, HostTensor>();
  for (const [name, shape] of weightShapes(config)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const isNorm = name.endsWith('norm.weight');
    const data = Float32Array.from({ length: size }, () => (isNorm ? 1 : 0) + std * rng.normal());
    tensors.set(name, { dtype: 'float32', shape, data });
  }
  return new MemoryWeightSource(tensors, `random-${config.modelType}`);
}

/** A tiny random model of the given type (see {@link tinyConfigJson}). */
export async function randomCausalLM(
  modelType: 'llama' | 'mistral' | 'qwen3' | 'gemma3_text',
  options: { seed?: number; overrides?: Record<string, unknown> } = {},
): Promise<CausalLM> {
  const config = parseModelConfig(tinyConfigJson(modelType, options.overrides), { file: `tiny-${modelType}` });
  return createCausalLM(config, randomWeights(config, options.seed ?? 0));
}
