/**
 * Browser entry of `@lora/models` (the `browser` export condition): everything of the Node entry
 * except what reads or writes by path: `loadModel` (use
 * {@link loadModelFromFiles} with fetched bytes or `File`s) and `writeHfCheckpoint`. `selectBackend`
 * is Node's chooser (it reads `process.env`, tries the native and Dawn backends); in a browser,
 * import `@tensorflow/tfjs-backend-wasm` (or `-webgpu`) and call `tf.setBackend` (see
 * examples/browser).
 *
 * @packageDocumentation
 */
export {
  parseModelConfig,
  type ModelConfig,
  type RopeConfig,
} from './config/model-config.js';
export { UnsupportedModelError } from './errors/unsupported-model-error.js';
export type { HostTensor, WeightSource } from './io/host-tensor.js';
export {
  selectBackend,
  type BackendName,
} from './backend/select-backend.js';
export { InsufficientMemoryError } from './backend/memory.js';
export type { LinearLike } from './layers/linear.js';
export type { EmbeddingLike } from './layers/embedding.js';
export { KVCache } from './cache/kv-cache.js';
export type { CausalLM, EmbeddingSlot, ForwardOptions, LinearSlot, OutputHead } from './architectures/causal-lm.js';
export { loadModelFromFiles } from './load-files.js';
export { generate, type GenerateOptions } from './generate/generate.js';
export { defaultStopTokenIds } from './config/generation-config.js';
export { scoreContinuations } from './scoring/log-probs.js';
export type { TextTokenizer } from './tokenizer.js';
