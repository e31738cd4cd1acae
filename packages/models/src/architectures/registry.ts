import type { ModelConfig, ModelType } from '../config/model-config.js';
import type { WeightSource } from '../io/host-tensor.js';
import type { CausalLM } from './causal-lm.js';
import { loadGemma3 } from './gemma3.js';
import { loadLlama } from './llama.js';

type Loader = (config: ModelConfig, weights: WeightSource, file: string) => Promise<CausalLM>;

/** Loader per `model_type`. Families that differ only by configuration share a loader (mlx-lm's aliases). */
const LOADERS: Record<ModelType, Loader> = {
  llama: loadLlama,
  mistral: loadLlama,
  qwen3: (config, weights, file) => loadLlama(config, weights, file, { qkNorm: true }),
  gemma3_text: loadGemma3,
};

/**
 * Builds the decoder for `config` from HF-named `weights` (strict: missing, misshapen or unused
 * tensors are errors that name the tensor).
 *
 * @param file - Name used in error messages (the checkpoint path).
 *
 * @example
 * ```ts
 * const model = await createCausalLM(parseModelConfig(json, { file }), await openWeights(dir));
 * const logits = model.forward(tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'));
 * ```
 */
export function createCausalLM(config: ModelConfig, weights: WeightSource, file = '<weights>'): Promise<CausalLM> {
  return LOADERS[config.modelType](config, weights, file);
}
