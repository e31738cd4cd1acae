/**
 * Browser entry of `@lora/models` (the `browser` export condition): everything of the Node entry
 * except what reads or writes by path: `loadModel` / `openCheckpoint` (use
 * {@link loadModelFromFiles} with fetched bytes or `File`s), `writeHfCheckpoint`,
 * `writeJsonAtomic` and `writeShardedSafetensors` (use `serializeSafetensors`). `selectBackend`
 * is Node's chooser (it reads `process.env`, tries the native and Dawn backends); in a browser,
 * import `@tensorflow/tfjs-backend-wasm` (or `-webgpu`) and call `tf.setBackend` (see
 * examples/browser).
 *
 * @packageDocumentation
 */
export {
  parseModelConfig,
  SUPPORTED_MODEL_TYPES,
  SUPPORTED_ROPE_TYPES,
  type ModelConfig,
  type ModelType,
  type LayerType,
  type HiddenAct,
  type RopeConfig,
  type RopeType,
} from './config/model-config.js';
export { UnsupportedModelError } from './errors/unsupported-model-error.js';
export { ShapeMismatchError } from './errors/shape-mismatch-error.js';
export { MemoryWeightSource, type HostTensor, type HostDtype, type HostData, type WeightSource } from './io/host-tensor.js';
export { NodeFileSource, MemoryFileSource, BlobFileSource, openFileSource, type FileSource, type FileOpener } from './io/file-source.js';
export { SafetensorsReader } from './io/safetensors-reader.js';
export { serializeSafetensors, writeSafetensors, type TensorToWrite, type SafetensorsWriteOptions } from './io/safetensors-writer.js';
export {
  openWeights,
  ShardedWeightSource,
  SAFETENSORS_WEIGHTS_NAME,
  SAFETENSORS_INDEX_NAME,
  type SafetensorsIndex,
  type SafetensorsWeights,
  type OpenWeightsOptions,
} from './io/sharded.js';
export { SAFETENSORS_DTYPES, type SafetensorsDtype, type RawTensor, type EncodableData } from './io/dtype.js';
export type { DecoderContext } from './layers/decoder-context.js';
export { GgufWeightSource } from './io/gguf/gguf-weight-source.js';
export { ggufToHfConfig, GGUF_ARCHITECTURES, type GgufToHfConfigOptions } from './io/gguf/gguf-config.js';
export { dequantizeGgml, DEQUANTIZABLE_GGML_TYPES } from './io/gguf/dequantize.js';
export { ggufToHfTensorName } from './io/gguf/tensor-names.js';
export {
  selectBackend,
  backendNames,
  type BackendName,
  type BackendSelection,
  type BackendAttempt,
  type SelectBackendOptions,
} from './backend/select-backend.js';
export {
  estimateMemory,
  assertFitsBackend,
  wasmHeapBytes,
  countParameters,
  InsufficientMemoryError,
  WASM_HEAP_LIMIT_BYTES,
  type MemoryEstimate,
  type MemoryWorkload,
} from './backend/memory.js';
export { installTensorflowKernels, SMALL_BATCHED_ROWS } from './backend/tensorflow-kernels.js';
export { Linear, type LinearLike, type LinearOptions } from './layers/linear.js';
export { Embedding, type EmbeddingLike, type EmbeddingOptions, gatherRows } from './layers/embedding.js';
export { RMSNorm } from './layers/rms-norm.js';
export { addSameShape, addScaled, fastFlaggedMatMul, isRecordingGradients } from './layers/tape.js';
export { variableGradsLean } from './layers/lean-grads.js';
export { ropeAttentionScaling, ropeInverseFrequencies } from './layers/rope.js';
export { KVCache } from './cache/kv-cache.js';
export type { CausalLM, EmbeddingSlot, ForwardOptions, LinearSlot, OutputHead } from './architectures/causal-lm.js';
export { DecoderModel, type DecoderBlock, type DecoderParts } from './architectures/decoder-model.js';
export { createCausalLM, type CreateCausalLMOptions } from './architectures/registry.js';
export { transformersName, isNonTextModule } from './architectures/module-names.js';
export { WeightReader, type LinearFactory, type LinearRequest } from './architectures/weight-reader.js';
export { loadModelFromFiles, type ModelFileData } from './load-files.js';
export { generate, type GenerateOptions, type GenerateOutput, type FinishReason } from './generate/generate.js';
export { defaultStopTokenIds } from './config/generation-config.js';
export { sampleToken, argmax, type SamplingOptions } from './generate/sample.js';
export { scoreContinuations, type ScoreRequest, type ScoreResult } from './scoring/log-probs.js';
export {
  readLlama2cCheckpoint,
  parseLlama2cCheckpoint,
  interleavedToRotateHalf,
  type Llama2cCheckpoint,
  type Llama2cHeader,
  type Llama2cHfConfig,
} from './llama2c/index.js';
export type { TextTokenizer } from './tokenizer.js';
