import { FileFormatError, InvalidArgumentError } from '@lora/core';
import type { GgufFile, GgufValue } from '@lora/core/internal';
import { z } from 'zod';
import { UnsupportedModelError } from '../../errors/unsupported-model-error.js';
import { recoverLlama3RopeScaling } from './llama3-rope.js';

/** GGUF `general.architecture` → Hugging Face `model_type` and class name. */
const ARCHITECTURES: Readonly<Record<string, { modelType: string; className: string }>> = {
  llama: { modelType: 'llama', className: 'LlamaForCausalLM' },
  mistral: { modelType: 'mistral', className: 'MistralForCausalLM' },
  qwen2: { modelType: 'qwen2', className: 'Qwen2ForCausalLM' },
  qwen3: { modelType: 'qwen3', className: 'Qwen3ForCausalLM' },
  gemma3: { modelType: 'gemma3_text', className: 'Gemma3ForCausalLM' },
};

/** GGUF architectures {@link ggufToHfConfig} maps (whether `@lora/models` has a decoder is `parseModelConfig`'s call). */
export const GGUF_ARCHITECTURES: readonly string[] = Object.keys(ARCHITECTURES);

const count = z.number().int().positive();
const id = z.number().int().nonnegative();

/** The `<arch>.*` hyperparameters, keyed without the architecture prefix. */
const ArchMetadata = z.object({
  block_count: count,
  embedding_length: count,
  feed_forward_length: count,
  context_length: count.optional(),
  vocab_size: count.optional(),
  'attention.head_count': count,
  'attention.head_count_kv': count.optional(),
  'attention.key_length': count.optional(),
  'attention.layer_norm_rms_epsilon': z.number().positive().optional(),
  'attention.sliding_window': count.optional(),
  'rope.dimension_count': count.optional(),
  'rope.freq_base': z.number().positive().optional(),
  'rope.scale_linear': z.number().positive().optional(),
  'rope.scaling.type': z.string().optional(),
  'rope.scaling.factor': z.number().positive().optional(),
  'rope.scaling.original_context_length': count.optional(),
  'rope.scaling.yarn_beta_fast': z.number().optional(),
  'rope.scaling.yarn_beta_slow': z.number().optional(),
});

/**
 * llama.cpp YaRN keys whose meaning differs from any transformers `rope_parameters` field
 * (`attn_factor` multiplies llama.cpp's own magnitude scale, `yarn_ext_factor` blends the ramp,
 * `yarn_log_multiplier` is DeepSeek's `0.1 · mscale_all_dim`): refused rather than guessed.
 */
const UNMAPPED_YARN_KEYS = [
  'rope.scaling.attn_factor',
  'rope.scaling.yarn_attn_factor',
  'rope.scaling.yarn_ext_factor',
  'rope.scaling.yarn_log_multiplier',
];

const TokenizerMetadata = z.object({
  'tokenizer.ggml.bos_token_id': id.optional(),
  'tokenizer.ggml.eos_token_id': id.optional(),
  'tokenizer.ggml.padding_token_id': id.optional(),
  'tokenizer.ggml.tokens': z.array(z.unknown()).optional(),
});

/** Validates metadata values with zod; the error names the file and the full GGUF key. */
function checkMetadata<S extends z.ZodType>(value: unknown, schema: S, file: string, prefix: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const keys = result.error.issues.map((i) => `${prefix}${i.path.map(String).join('.')}`);
  throw new FileFormatError({
    file,
    field: keys[0],
    message: result.error.issues.map((i, n) => `metadata \`${keys[n]}\`: ${i.message}`).join('; '),
    cause: result.error,
  });
}

/**
 * Shortest decimal that is the same float32 (GGUF stores `1e-5` as 9.99999974737875e-6; the
 * config says `1e-5`, as config.json would).
 */
function float32Decimal(x: number): number {
  const f = Math.fround(x);
  if (f !== x) return x; // a float64 value (f64 metadata): keep it
  for (let digits = 1; digits <= 9; digits++) {
    const y = Number(x.toPrecision(digits));
    if (Math.fround(y) === f) return y;
  }
  return x;
}

/** Options of {@link ggufToHfConfig}. */
export interface GgufToHfConfigOptions {
  /**
   * Values of the file's `rope_freqs.weight` tensor (Llama 3 rope scaling), needed when the file
   * has one: read them with `GgufWeightSource.ropeFreqs()`.
   */
  ropeFreqs?: Float32Array;
}

/**
 * Builds a Hugging Face `config.json` object from a GGUF header's metadata (llama.cpp's key
 * names, as transformers' GGUF loader reads them): `general.architecture` (llama, mistral, qwen2,
 * qwen3, gemma3) → `model_type`; `<arch>.block_count`, `.embedding_length`,
 * `.feed_forward_length`, `.attention.head_count`, `.attention.head_count_kv`,
 * `.attention.key_length` (else `.rope.dimension_count`) → `head_dim`, `.context_length`,
 * `.rope.freq_base`, `.rope.scaling.{type,factor,original_context_length,yarn_beta_fast,yarn_beta_slow}` → `rope_scaling`, `.attention.layer_norm_rms_epsilon`,
 * `.attention.sliding_window`; tokenizer bos/eos/pad ids; `tie_word_embeddings` when there is no
 * `output.weight`; Llama 3 rope scaling recovered from `rope_freqs.weight` (`options.ropeFreqs`:
 * the `llama3` parameters that reproduce every stored factor). Gemma 3 gets llama.cpp's fixed facts (5 local : 1 global layers, local rope
 * base 10000, attention scale). The result goes through `parseModelConfig` like any config.json,
 * and a later `lora convert` can write it as is.
 *
 * @throws `UnsupportedModelError` naming the file for another architecture, or for per-frequency
 *   rope factors (`rope_freqs.weight`) that no `llama3` scaling reproduces.
 * @throws `InvalidArgumentError` when the file has `rope_freqs.weight` and `options.ropeFreqs` is missing.
 * @throws `FileFormatError` naming the file and key for a missing or mistyped hyperparameter.
 * @example
 * ```ts
 * const config = ggufToHfConfig(await openGguf('SmolLM2-135M-Instruct.Q4_1.gguf'));
 * config.num_hidden_layers; // 30
 * const parsed = parseModelConfig(config, { file: 'SmolLM2-135M-Instruct.Q4_1.gguf' });
 * ```
 */
export function ggufToHfConfig(gguf: GgufFile, options: GgufToHfConfigOptions = {}): Record<string, unknown> {
  const arch = gguf.metadata['general.architecture'];
  const known = typeof arch === 'string' ? ARCHITECTURES[arch] : undefined;
  if (known === undefined) {
    throw new UnsupportedModelError({
      modelType: String(arch),
      message: `${gguf.file}: GGUF architecture "${String(arch)}" (\`general.architecture\`) is not supported. Supported: ${GGUF_ARCHITECTURES.join(', ')}.`,
    });
  }
  const prefix = `${arch as string}.`;
  const own: Record<string, GgufValue> = {};
  for (const [key, value] of Object.entries(gguf.metadata)) if (key.startsWith(prefix)) own[key.slice(prefix.length)] = value;
  const m = checkMetadata(own, ArchMetadata, gguf.file, prefix);
  const tok = checkMetadata(gguf.metadata, TokenizerMetadata, gguf.file, '');

  const headDim = m['attention.key_length'] ?? m['rope.dimension_count'];
  const embd = gguf.tensors.find((t) => t.name === 'token_embd.weight');
  const vocabSize = m.vocab_size ?? embd?.dims[1] ?? tok['tokenizer.ggml.tokens']?.length;
  const config: Record<string, unknown> = {
    architectures: [known.className],
    model_type: known.modelType,
    vocab_size: vocabSize,
    hidden_size: m.embedding_length,
    intermediate_size: m.feed_forward_length,
    num_hidden_layers: m.block_count,
    num_attention_heads: m['attention.head_count'],
    num_key_value_heads: m['attention.head_count_kv'] ?? m['attention.head_count'],
    ...(headDim === undefined ? {} : { head_dim: headDim }),
    ...(m.context_length === undefined ? {} : { max_position_embeddings: m.context_length }),
    ...(m['attention.layer_norm_rms_epsilon'] === undefined ? {} : { rms_norm_eps: float32Decimal(m['attention.layer_norm_rms_epsilon']) }),
    ...(m['rope.freq_base'] === undefined ? {} : { rope_theta: float32Decimal(m['rope.freq_base']) }),
    tie_word_embeddings: !gguf.tensors.some((t) => t.name === 'output.weight'),
    ...(tok['tokenizer.ggml.bos_token_id'] === undefined ? {} : { bos_token_id: tok['tokenizer.ggml.bos_token_id'] }),
    ...(tok['tokenizer.ggml.eos_token_id'] === undefined ? {} : { eos_token_id: tok['tokenizer.ggml.eos_token_id'] }),
    ...(tok['tokenizer.ggml.padding_token_id'] === undefined ? {} : { pad_token_id: tok['tokenizer.ggml.padding_token_id'] }),
  };

  const scalingType = m['rope.scaling.type'] ?? (m['rope.scale_linear'] === undefined ? undefined : 'linear');
  if (scalingType !== undefined && scalingType !== 'none') {
    const factor = m['rope.scaling.factor'] ?? m['rope.scale_linear'];
    config.rope_scaling = {
      rope_type: scalingType,
      ...(factor === undefined ? {} : { factor: float32Decimal(factor) }),
      ...(m['rope.scaling.original_context_length'] === undefined
        ? {}
        : { original_max_position_embeddings: m['rope.scaling.original_context_length'] }),
      ...(m['rope.scaling.yarn_beta_fast'] === undefined ? {} : { beta_fast: float32Decimal(m['rope.scaling.yarn_beta_fast']) }),
      ...(m['rope.scaling.yarn_beta_slow'] === undefined ? {} : { beta_slow: float32Decimal(m['rope.scaling.yarn_beta_slow']) }),
    };
    const unmapped = UNMAPPED_YARN_KEYS.find((key) => own[key] !== undefined);
    if (unmapped !== undefined) {
      throw new UnsupportedModelError({
        modelType: known.modelType,
        message: `${gguf.file}: \`${prefix}${unmapped}\` has no exact transformers rope parameter; only type, factor, original_context_length and yarn_beta_fast/yarn_beta_slow are mapped.`,
      });
    }
  }

  if (gguf.tensors.some((t) => t.name === 'rope_freqs.weight')) {
    if (options.ropeFreqs === undefined) {
      throw new InvalidArgumentError({
        argument: 'options.ropeFreqs',
        message: `${gguf.file} has a \`rope_freqs.weight\` tensor (Llama 3 rope scaling): pass its values, e.g. from \`GgufWeightSource.ropeFreqs()\`.`,
      });
    }
    const theta = m['rope.freq_base'] ?? 10000;
    const dim = m['rope.dimension_count'] ?? headDim ?? m.embedding_length / m['attention.head_count'];
    const scaling = recoverLlama3RopeScaling(options.ropeFreqs, theta, dim);
    if (scaling === undefined) {
      throw new UnsupportedModelError({
        modelType: known.modelType,
        message: `${gguf.file}: the per-frequency rope factors in \`rope_freqs.weight\` match no "llama3" rope scaling; other kinds are not supported.`,
      });
    }
    config.rope_scaling = scaling;
  }

  if (known.modelType === 'mistral' || known.modelType === 'qwen2' || known.modelType === 'qwen3') {
    if (m['attention.sliding_window'] !== undefined) {
      config.sliding_window = m['attention.sliding_window'];
      if (known.modelType !== 'mistral') config.use_sliding_window = true;
    }
  }
  if (known.modelType === 'gemma3_text') {
    const dim = headDim ?? m.embedding_length / m['attention.head_count'];
    Object.assign(config, {
      hidden_activation: 'gelu_pytorch_tanh',
      // llama.cpp (src/llama-model.cpp, LLM_ARCH_GEMMA3) fixes these instead of storing them:
      sliding_window_pattern: 6,
      rope_local_base_freq: 10000,
      // attention scale 1/sqrt(hidden/heads) for the 62-layer 27B model, 1/sqrt(head_dim) otherwise
      query_pre_attn_scalar: m.block_count === 62 ? m.embedding_length / m['attention.head_count'] : dim,
      ...(m['attention.sliding_window'] === undefined ? {} : { sliding_window: m['attention.sliding_window'] }),
    });
  }
  return config;
}
