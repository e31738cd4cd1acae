import { FileFormatError, type Source } from '@lora/core';
import { validate } from '@lora/core/internal';
import { z } from 'zod';
import { UnsupportedModelError } from '../errors/unsupported-model-error.js';

/** Architectures with a decoder in this package (gemma3 multimodal checkpoints resolve to `gemma3_text`). */
export const SUPPORTED_MODEL_TYPES = ['llama', 'mistral', 'qwen3', 'gemma3_text'] as const;

/** One of {@link SUPPORTED_MODEL_TYPES}. */
export type ModelType = (typeof SUPPORTED_MODEL_TYPES)[number];

/** The transformers rope types this package computes (`rope_type`, or the older `type`). */
export const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3', 'dynamic', 'yarn', 'longrope'] as const;

/** One of {@link SUPPORTED_ROPE_TYPES}. */
export type RopeType = (typeof SUPPORTED_ROPE_TYPES)[number];

/**
 * Rotary embedding parameters of one layer type, with every default transformers derives filled in.
 * `dynamic` and `longrope` depend on the length of the sequence a forward covers (see
 * packages/models/README.md, "RoPE scaling"); the others are fixed.
 */
export interface RopeConfig {
  /**
   * `rope_type`: `default`; `linear` (positions divided by factor); `llama3` (frequency-banded
   * scaling); `dynamic` (NTK: the base grows once a sequence exceeds `max_position_embeddings`);
   * `yarn` (NTK-by-parts interpolation plus an attention factor); `longrope` (per-frequency short
   * or long factors plus an attention factor).
   */
  readonly type: RopeType;
  /** Base `rope_theta`. */
  readonly theta: number;
  /** Scaling factor (`linear`, `llama3`, `dynamic`, `yarn`; `longrope`: as given or `max_position_embeddings / original_max_position_embeddings`); 1 for `default`. */
  readonly factor: number;
  /** `llama3` only. */
  readonly lowFreqFactor: number;
  /** `llama3` only. */
  readonly highFreqFactor: number;
  /**
   * The pretraining length: `original_max_position_embeddings` (`llama3`, `yarn`, `longrope`;
   * `max_position_embeddings` when absent). For `dynamic` it is `max_position_embeddings`, the
   * length past which transformers grows the base.
   */
  readonly originalMaxPositionEmbeddings: number;
  /** `yarn`, `longrope`: the multiplier of the rotary cos and sin (`attention_factor`, or the one derived from `factor`/`mscale`). */
  readonly attentionFactor?: number;
  /** `yarn` only: `beta_fast` (default 32) and `beta_slow` (default 1), the rotation counts bounding the ramp. */
  readonly betaFast?: number;
  /** `yarn` only, see {@link RopeConfig.betaFast}. */
  readonly betaSlow?: number;
  /** `yarn` only: round the ramp bounds to whole dimensions (`truncate`, default true). */
  readonly truncate?: boolean;
  /** `longrope` only: per-frequency divisors (`headDim / 2` each) for sequences within the pretraining length. */
  readonly shortFactor?: readonly number[];
  /** `longrope` only: per-frequency divisors for sequences longer than the pretraining length. */
  readonly longFactor?: readonly number[];
}

/**
 * A parsed, validated model configuration: `config.json` keys in camelCase with every default the
 * reference implementation derives filled in (head dim, layer types, rope per layer type).
 */
export interface ModelConfig {
  readonly modelType: ModelType;
  /** `architectures[0]` as written in config.json, if any. */
  readonly architecture: string | undefined;
  /**
   * True for the text decoder of a multimodal checkpoint (`model_type` "gemma3",
   * Gemma3ForConditionalGeneration): transformers names its modules `model.language_model.*`
   * (and PEFT keys its adapters so), and the checkpoint's vision tower and projector are skipped.
   */
  readonly multimodal: boolean;
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly numHiddenLayers: number;
  readonly numAttentionHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly maxPositionEmbeddings: number;
  readonly rmsNormEps: number;
  readonly hiddenAct: 'silu' | 'gelu_pytorch_tanh' | 'gelu';
  readonly attentionBias: boolean;
  readonly mlpBias: boolean;
  readonly tieWordEmbeddings: boolean;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  /**
   * The ids generation stops on by default, when the model says more than `eosTokenIds`:
   * `eos_token_id` of `generation_config.json`, or for a GGUF file its EOS and end-of-turn ids.
   * Set by `loadModel`; see `defaultStopTokenIds`.
   */
  readonly generationEosTokenIds?: readonly number[];
  /**
   * The name or path the model was loaded from (transformers' `config._name_or_path`): set by
   * `loadModel`, and written by `@lora/peft` as an adapter's `base_model_name_or_path`.
   */
  readonly nameOrPath?: string;
  readonly padTokenId: number | undefined;
  /** Attention kind per layer (length `numHiddenLayers`). */
  readonly layerTypes: readonly ('full_attention' | 'sliding_attention')[];
  /** Window of sliding-attention layers: a query attends to itself and the `slidingWindow - 1` keys before it. */
  readonly slidingWindow: number | undefined;
  /** Rotary parameters per layer type. */
  readonly rope: Readonly<Record<'full_attention' | 'sliding_attention', RopeConfig>>;
  /** Gemma 3: attention scale is `queryPreAttnScalar ** -0.5` instead of `headDim ** -0.5`. */
  readonly queryPreAttnScalar: number | undefined;
  /**
   * `attn_logit_softcapping` as config.json gives it. Not applied: transformers' Gemma 3 reads the
   * field but never passes it to its attention (Gemma 2, not supported here, does).
   */
  readonly attnLogitSoftcapping: number | undefined;
  /**
   * `final_logit_softcapping` as config.json gives it (`tanh(x / c) * c` on the logits). Applied by
   * `Gemma3ForCausalLM` only, as in transformers; `Gemma3ForConditionalGeneration` ignores it.
   */
  readonly finalLogitSoftcapping: number | undefined;
  /** The raw `quantization_config`, left for `@lora/quant` to interpret. */
  readonly quantizationConfig: unknown;
}

/**
 * Plausibility bounds of `config.json` sizes. They are far above any released checkpoint (the
 * largest have ~130 layers, hidden 16k–26k, vocab 262k) and far below what would make allocation
 * itself fail with a bare `RangeError` or an abort: a value outside is a corrupt or hostile file.
 */
const LIMITS = {
  /** Token ids travel through float32 tensors: exact integers end at 2^24. */
  vocabSize: 2 ** 24,
  hiddenSize: 65_536,
  intermediateSize: 1_048_576,
  numHiddenLayers: 1024,
  numHeads: 1024,
  headDim: 4096,
  positions: 2 ** 27,
} as const;

/** An integer config size in [min, max], with a message that names the bound. */
function size(min: number, max: number) {
  return z
    .number()
    .int()
    .min(min, { error: `must be at least ${min}` })
    .max(max, { error: (issue) => `${String(issue.input)} is not plausible (at most ${max.toLocaleString('en-US')})` });
}

/** A strictly positive, finite real at most `max`. */
function positive(max: number) {
  return z
    .number()
    .positive()
    .max(max, { error: (issue) => `${String(issue.input)} is not plausible (at most ${max})` });
}

const tokenId = z.number().int().min(0, { error: 'a token id is at least 0' });
const tokenIds = z.union([tokenId, z.array(tokenId), z.null()]).optional();
// Old Llama conversions write `"pad_token_id": -1` for "no padding token", which transformers
// accepts; any other negative id is an error.
const padTokenId = z.union([z.literal(-1).transform(() => null), tokenId, z.array(tokenId), z.null()]).optional();

const ropeFactors = z.array(positive(1e6)).max(LIMITS.headDim);

/** Keys each rope type needs (transformers raises a KeyError without them). */
const REQUIRED_ROPE_KEYS: Partial<
  Record<string, readonly ('factor' | 'low_freq_factor' | 'high_freq_factor' | 'short_factor' | 'long_factor')[]>
> = {
  linear: ['factor'],
  dynamic: ['factor'],
  llama3: ['factor', 'low_freq_factor', 'high_freq_factor'],
  yarn: ['factor'],
  longrope: ['short_factor', 'long_factor'],
};

const RopeParams = z
  .looseObject({
    rope_type: z.string().optional(),
    type: z.string().optional(),
    rope_theta: positive(1e12).optional(),
    factor: positive(1e6).nullish(),
    low_freq_factor: z.number().optional(),
    high_freq_factor: z.number().optional(),
    original_max_position_embeddings: size(1, LIMITS.positions).optional(),
    attention_factor: positive(1e6).nullish(),
    beta_fast: z.number().nullish(),
    beta_slow: z.number().nullish(),
    mscale: z.number().nullish(),
    mscale_all_dim: z.number().nullish(),
    truncate: z.boolean().nullish(),
    short_factor: ropeFactors.nullish(),
    long_factor: ropeFactors.nullish(),
  })
  .superRefine((p, ctx) => {
    const type = p.rope_type ?? p.type ?? 'default';
    for (const key of REQUIRED_ROPE_KEYS[type] ?? []) {
      // yarn accepts `"factor": null` (then max_position_embeddings / original_max_position_embeddings)
      const missing = type === 'yarn' ? p[key] === undefined : p[key] == null;
      if (missing) ctx.addIssue({ code: 'custom', path: [key], message: `rope type "${type}" needs \`${key}\`` });
    }
    if (type === 'llama3' && p.low_freq_factor != null && p.high_freq_factor != null && !(p.high_freq_factor > p.low_freq_factor)) {
      ctx.addIssue({ code: 'custom', path: ['high_freq_factor'], message: 'must be greater than `low_freq_factor`' });
    }
  });
type RopeParams = z.infer<typeof RopeParams>;
/** transformers v5 `rope_parameters` per layer type (Gemma 3). */
const PerLayerTypeRope = z.strictObject({ full_attention: RopeParams.optional(), sliding_attention: RopeParams.optional() });

const HfTextConfig = z
  .looseObject({
    model_type: z.string(),
    architectures: z.array(z.string()).nullish(),
    vocab_size: size(1, LIMITS.vocabSize),
    hidden_size: size(1, LIMITS.hiddenSize),
    intermediate_size: size(1, LIMITS.intermediateSize),
    num_hidden_layers: size(1, LIMITS.numHiddenLayers),
    num_attention_heads: size(1, LIMITS.numHeads),
    num_key_value_heads: size(1, LIMITS.numHeads).nullish(),
    head_dim: size(1, LIMITS.headDim).nullish(),
    // A causal LM predicts the next token: one position leaves nothing to train on or generate.
    max_position_embeddings: size(2, LIMITS.positions).default(2048),
    // Real models use 1e-5 … 1e-12; an epsilon near 1 or above swamps the variance it stabilises.
    rms_norm_eps: positive(0.1).default(1e-6),
    hidden_act: z.string().nullish(),
    hidden_activation: z.string().nullish(),
    attention_bias: z.boolean().default(false),
    mlp_bias: z.boolean().default(false),
    tie_word_embeddings: z.boolean().nullish(),
    bos_token_id: tokenIds,
    eos_token_id: tokenIds,
    pad_token_id: padTokenId,
    rope_theta: positive(1e12).nullish(),
    rope_scaling: RopeParams.nullish(),
    // Checked in superRefine against the form its keys announce (per layer type, or one for all).
    rope_parameters: z.record(z.string(), z.unknown()).nullish(),
    rope_local_base_freq: positive(1e12).nullish(),
    layer_types: z.array(z.enum(['full_attention', 'sliding_attention'])).nullish(),
    sliding_window: size(1, LIMITS.positions).nullish(),
    sliding_window_pattern: size(1, LIMITS.numHiddenLayers).nullish(),
    use_sliding_window: z.boolean().nullish(),
    max_window_layers: z.number().int().nullish(),
    query_pre_attn_scalar: z.number().positive().nullish(),
    attn_logit_softcapping: z.number().positive().nullish(),
    final_logit_softcapping: z.number().positive().nullish(),
    quantization_config: z.unknown().optional(),
  })
  .superRefine((c, ctx) => {
    const rp = c.rope_parameters;
    if (rp != null) {
      const parsed = ('full_attention' in rp || 'sliding_attention' in rp ? PerLayerTypeRope : RopeParams).safeParse(rp);
      for (const issue of parsed.error?.issues ?? []) {
        ctx.addIssue({ code: 'custom', path: ['rope_parameters', ...issue.path], message: issue.message });
      }
    }
    for (const key of ['bos_token_id', 'eos_token_id', 'pad_token_id'] as const) {
      const v = c[key];
      const ids = v == null ? [] : Array.isArray(v) ? v : [v];
      ids.forEach((id, i) => {
        if (id >= c.vocab_size) {
          ctx.addIssue({
            code: 'custom',
            path: Array.isArray(v) ? [key, i] : [key],
            message: `token id ${id} is outside the vocabulary (\`vocab_size\` ${c.vocab_size})`,
          });
        }
      });
    }
  });
type HfTextConfig = z.infer<typeof HfTextConfig>;

const HfConfig = z.looseObject({
  model_type: z.string({ error: '`model_type` is required (a string such as "llama")' }),
  text_config: z.record(z.string(), z.unknown()).nullish(),
});

/** Per-architecture defaults that transformers' config classes supply when a key is absent. */
const DEFAULTS: Record<ModelType, { ropeTheta: number; hiddenAct: HiddenAct; tie: boolean }> = {
  llama: { ropeTheta: 10000, hiddenAct: 'silu', tie: false },
  mistral: { ropeTheta: 10000, hiddenAct: 'silu', tie: false },
  qwen3: { ropeTheta: 10000, hiddenAct: 'silu', tie: false },
  gemma3_text: { ropeTheta: 1_000_000, hiddenAct: 'gelu_pytorch_tanh', tie: true },
};

/**
 * Parses a Hugging Face `config.json` object into a {@link ModelConfig}. Accepts `llama`,
 * `mistral`, `qwen3`, `gemma3_text`, and multimodal `gemma3` (its `text_config`); both the
 * `rope_theta`/`rope_scaling` keys and transformers v5's `rope_parameters`.
 *
 * @throws FileFormatError naming the file and field when a value is malformed.
 * @throws UnsupportedModelError for another `model_type`, rope type or activation.
 *
 * @example
 * ```ts
 * const config = parseModelConfig(JSON.parse(await readFile('config.json', 'utf8')), { file: 'config.json' });
 * config.headDim; // 128
 * ```
 */
export function parseModelConfig(json: unknown, source: Source): ModelConfig {
  const outer = validate(json, HfConfig, source);
  let raw: unknown = json;
  let architecture = (json as { architectures?: string[] }).architectures?.[0];
  if (outer.model_type === 'gemma3') {
    if (outer.text_config == null) {
      throw new UnsupportedModelError({
        modelType: 'gemma3',
        message: `${source.file}: a "gemma3" config without \`text_config\` has no text decoder to load.`,
      });
    }
    // The text part of a multimodal checkpoint; token ids may live on the outer config.
    const outerObj = json as Record<string, unknown>;
    raw = {
      model_type: 'gemma3_text',
      eos_token_id: outerObj.eos_token_id,
      bos_token_id: outerObj.bos_token_id,
      pad_token_id: outerObj.pad_token_id,
      // transformers writes `quantization_config` at the top level of the multimodal config.
      ...(outerObj.quantization_config === undefined ? {} : { quantization_config: outerObj.quantization_config }),
      ...outer.text_config,
    };
    architecture = 'Gemma3ForConditionalGeneration';
  }
  const c = validate(raw, HfTextConfig, source);
  const modelType = c.model_type as ModelType;
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new UnsupportedModelError({
      modelType: c.model_type,
      message: `${source.file}: model_type "${c.model_type}" is not supported. Supported: ${SUPPORTED_MODEL_TYPES.join(', ')}, gemma3.`,
    });
  }
  const defaults = DEFAULTS[modelType];
  const numKeyValueHeads = c.num_key_value_heads ?? c.num_attention_heads;
  if (c.num_attention_heads % numKeyValueHeads !== 0) {
    throw new UnsupportedModelError({
      modelType,
      message: `${source.file}: \`num_attention_heads\` (${c.num_attention_heads}) must be a multiple of \`num_key_value_heads\` (${numKeyValueHeads}).`,
    });
  }
  const headDim = c.head_dim ?? c.hidden_size / c.num_attention_heads;
  if (!Number.isInteger(headDim)) {
    throw new UnsupportedModelError({
      modelType,
      message: `${source.file}: \`hidden_size\` (${c.hidden_size}) is not divisible by \`num_attention_heads\` (${c.num_attention_heads}); set \`head_dim\`.`,
    });
  }
  const layerTypes = resolveLayerTypes(c, modelType, source);
  const slidingWindow = layerTypes.includes('sliding_attention') ? (c.sliding_window ?? undefined) : undefined;
  if (layerTypes.includes('sliding_attention') && slidingWindow === undefined) {
    throw new UnsupportedModelError({
      modelType,
      message: `${source.file}: sliding-attention layers need \`sliding_window\`.`,
    });
  }
  return Object.freeze({
    modelType,
    architecture: architecture ?? undefined,
    multimodal: outer.model_type === 'gemma3',
    vocabSize: c.vocab_size,
    hiddenSize: c.hidden_size,
    intermediateSize: c.intermediate_size,
    numHiddenLayers: c.num_hidden_layers,
    numAttentionHeads: c.num_attention_heads,
    numKeyValueHeads,
    headDim,
    maxPositionEmbeddings: c.max_position_embeddings,
    rmsNormEps: c.rms_norm_eps,
    hiddenAct: resolveActivation(c.hidden_activation ?? c.hidden_act ?? defaults.hiddenAct, modelType, source),
    attentionBias: c.attention_bias,
    mlpBias: c.mlp_bias,
    tieWordEmbeddings: c.tie_word_embeddings ?? defaults.tie,
    bosTokenId: firstId(c.bos_token_id),
    eosTokenIds: toIds(c.eos_token_id),
    padTokenId: firstId(c.pad_token_id),
    layerTypes: Object.freeze(layerTypes),
    slidingWindow,
    rope: Object.freeze(resolveRope(c, modelType, defaults.ropeTheta, source)),
    queryPreAttnScalar: modelType === 'gemma3_text' ? (c.query_pre_attn_scalar ?? 256) : undefined,
    attnLogitSoftcapping: c.attn_logit_softcapping ?? undefined,
    finalLogitSoftcapping: c.final_logit_softcapping ?? undefined,
    quantizationConfig: c.quantization_config,
  });
}

function toIds(v: number | number[] | null | undefined): number[] {
  if (v == null) return [];
  return Array.isArray(v) ? v : [v];
}

function firstId(v: number | number[] | null | undefined): number | undefined {
  return toIds(v)[0];
}

function resolveActivation(name: string, modelType: ModelType, source: Source): HiddenAct {
  if (name === 'silu' || name === 'swish') return 'silu';
  if (name === 'gelu_pytorch_tanh' || name === 'gelu_new' || name === 'gelu_fast') return 'gelu_pytorch_tanh';
  if (name === 'gelu') return 'gelu';
  throw new UnsupportedModelError({
    modelType,
    message: `${source.file}: activation "${name}" (\`hidden_act\`) is not supported. Supported: silu, gelu_pytorch_tanh, gelu.`,
  });
}

function resolveLayerTypes(c: HfTextConfig, modelType: ModelType, source: Source): LayerType[] {
  const n = c.num_hidden_layers;
  if (c.layer_types != null) {
    if (c.layer_types.length !== n) {
      throw new UnsupportedModelError({
        modelType,
        message: `${source.file}: \`layer_types\` has ${c.layer_types.length} entries but \`num_hidden_layers\` is ${n}.`,
      });
    }
    return [...c.layer_types];
  }
  const all = (t: LayerType): LayerType[] => Array.from({ length: n }, () => t);
  switch (modelType) {
    case 'gemma3_text': {
      const pattern = c.sliding_window_pattern ?? 6;
      return Array.from({ length: n }, (_, i) => ((i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention'));
    }
    case 'mistral':
      return all(c.sliding_window == null ? 'full_attention' : 'sliding_attention');
    case 'qwen3': {
      if (!c.use_sliding_window || c.sliding_window == null) return all('full_attention');
      const first = c.max_window_layers ?? n;
      return Array.from({ length: n }, (_, i) => (i >= first ? 'sliding_attention' : 'full_attention'));
    }
    case 'llama':
      return all('full_attention');
  }
}

function resolveRope(c: HfTextConfig, modelType: ModelType, defaultTheta: number, source: Source): Record<LayerType, RopeConfig> {
  const params = c.rope_parameters;
  const perType =
    params != null && ('full_attention' in params || 'sliding_attention' in params) ? (params as Record<string, RopeParams>) : undefined;
  const legacy = { rope_theta: c.rope_theta ?? defaultTheta, ...(c.rope_scaling ?? {}) };
  const legacyField = c.rope_scaling == null ? 'rope_theta' : 'rope_scaling';
  if (modelType === 'gemma3_text') {
    const full = perType?.full_attention ?? legacy;
    const sliding = perType?.sliding_attention ?? { rope_theta: c.rope_local_base_freq ?? 10000, rope_type: 'default' };
    return {
      full_attention: toRope(full, defaultTheta, c, source, perType?.full_attention ? 'rope_parameters.full_attention' : legacyField),
      sliding_attention: toRope(
        sliding,
        10000,
        c,
        source,
        perType?.sliding_attention ? 'rope_parameters.sliding_attention' : 'rope_local_base_freq',
      ),
    };
  }
  const single: RopeParams = perType?.full_attention ?? (params as RopeParams | null | undefined) ?? legacy;
  const field = perType?.full_attention ? 'rope_parameters.full_attention' : params != null ? 'rope_parameters' : legacyField;
  const rope = toRope({ rope_theta: c.rope_theta ?? defaultTheta, ...single }, defaultTheta, c, source, field);
  return { full_attention: rope, sliding_attention: rope };
}

/** transformers' YaRN magnitude scale `0.1 · m · ln(s) + 1` (1 for s ≤ 1). */
function yarnMscale(scale: number, m = 1): number {
  return scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1;
}

function toRope(p: RopeParams, defaultTheta: number, c: HfTextConfig, source: Source, field: string): RopeConfig {
  const rope = resolveRopeType(p, defaultTheta, c, source, field);
  // e.g. longrope with original_max_position_embeddings 1 (ln 1 = 0), or yarn with rope_theta 1
  if (rope.attentionFactor !== undefined && !Number.isFinite(rope.attentionFactor)) {
    throw new FileFormatError({
      file: source.file,
      field,
      message: `\`${field}\` gives rope type "${rope.type}" a non-finite attention factor.`,
    });
  }
  if (rope.type === 'yarn' && !(rope.theta > 1)) {
    throw new FileFormatError({
      file: source.file,
      field,
      message: `\`${field}\`: rope type "yarn" needs \`rope_theta\` > 1 (its ramp divides by ln rope_theta).`,
    });
  }
  return rope;
}

function resolveRopeType(p: RopeParams, defaultTheta: number, c: HfTextConfig, source: Source, field: string): RopeConfig {
  const type = p.rope_type ?? p.type ?? 'default';
  if (!(SUPPORTED_ROPE_TYPES as readonly string[]).includes(type)) {
    throw new UnsupportedModelError({
      modelType: c.model_type,
      message: `${source.file}: rope type "${type}" (\`${field}\`) is not supported. Supported: ${SUPPORTED_ROPE_TYPES.join(', ')}.`,
    });
  }
  const original = p.original_max_position_embeddings ?? c.max_position_embeddings;
  const base = {
    type: type as RopeType,
    theta: p.rope_theta ?? defaultTheta,
    factor: p.factor ?? 1,
    lowFreqFactor: p.low_freq_factor ?? 1,
    highFreqFactor: p.high_freq_factor ?? 4,
    originalMaxPositionEmbeddings: original,
  };
  switch (type) {
    case 'dynamic':
      // transformers compares against (and scales by) max_position_embeddings, not the original length.
      return { ...base, originalMaxPositionEmbeddings: c.max_position_embeddings };
    case 'yarn': {
      const factor = p.factor ?? c.max_position_embeddings / original;
      const attentionFactor =
        p.attention_factor ??
        (p.mscale && p.mscale_all_dim ? yarnMscale(factor, p.mscale) / yarnMscale(factor, p.mscale_all_dim) : yarnMscale(factor));
      return {
        ...base,
        factor,
        attentionFactor,
        // `or` in transformers: 0 and null both mean the default
        betaFast: p.beta_fast || 32,
        betaSlow: p.beta_slow || 1,
        truncate: p.truncate ?? true,
      };
    }
    case 'longrope': {
      const half = (c.head_dim ?? c.hidden_size / c.num_attention_heads) / 2;
      const factors = { short_factor: p.short_factor ?? [], long_factor: p.long_factor ?? [] };
      for (const [key, list] of Object.entries(factors)) {
        if (list.length !== half) {
          throw new FileFormatError({
            file: source.file,
            field: `${field}.${key}`,
            message: `\`${field}.${key}\` has ${list.length} entries; rope type "longrope" needs one per frequency, head_dim / 2 = ${half}.`,
          });
        }
      }
      const factor = p.factor ?? c.max_position_embeddings / original;
      const attentionFactor = p.attention_factor ?? (factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(original)));
      return { ...base, factor, attentionFactor, shortFactor: factors.short_factor, longFactor: factors.long_factor };
    }
    default:
      return base;
  }
}

/** Attention kind of one layer, with Hugging Face's `layer_types` names. */
export type LayerType = ModelConfig['layerTypes'][number];

/** Activation of the gated MLP (`hidden_act` / `hidden_activation`). */
export type HiddenAct = ModelConfig['hiddenAct'];
