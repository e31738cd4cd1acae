import type { ModelConfig, ModelType } from '../config/model-config.js';
import type { WeightSource } from '../io/host-tensor.js';
import type { CausalLM } from './causal-lm.js';
import type { LinearFactory } from './weight-reader.js';
import { loadGemma3 } from './gemma3.js';
import { loadLlama } from './llama.js';

/** Options of {@link createCausalLM}. */
export interface CreateCausalLMOptions {
  /** Builds linear modules from the checkpoint directly (e.g. NF4 layers from packed bytes). */
  linearFactory?: LinearFactory;
  /** Receives load warnings, e.g. the count of skipped vision-tower tensors (default `console.warn`). */
  onWarning?: (message: string) => void;
}

type Loader = (config: ModelConfig, weights: WeightSource, file: string, options: CreateCausalLMOptions) => Promise<CausalLM>;

/** Loader per `model_type`. Families that differ only by configuration share a loader (mlx-lm's aliases). */
const LOADERS: Record<ModelType, Loader> = {
  llama: loadLlama,
  mistral: loadLlama,
  qwen3: (config, weights, file, options) => loadLlama(config, weights, file, { ...options, qkNorm: true }),
  gemma3_text: loadGemma3,
};

/**
 * Builds the decoder for `config` from HF-named `weights` (strict: missing, misshapen or unused
 * tensors are errors that name the tensor).
 *
 * @param file - Name used in error messages (the checkpoint path).
 * @param options - `linearFactory` to build some linear modules straight from their stored bytes.
 *
 * @example
 * ```ts
 * const model = await createCausalLM(parseModelConfig(json, { file }), await openWeights(dir));
 * const logits = model.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'));
 * ```
 */
export function createCausalLM(
  config: ModelConfig,
  weights: WeightSource,
  file = '<weights>',
  options: CreateCausalLMOptions = {},
): Promise<CausalLM> {
  return LOADERS[config.modelType](config, weights, file, options);
}
