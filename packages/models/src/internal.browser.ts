/**
 * Internals of `@lora/models` (browser build) that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/models`.
 *
 * @packageDocumentation
 */
export { MemoryWeightSource } from './io/host-tensor.js';
export { MemoryFileSource } from './io/file-source.js';
export { SafetensorsReader } from './io/safetensors-reader.js';
export { serializeSafetensors, writeSafetensors, type TensorToWrite } from './io/safetensors-writer.js';
export { openWeights, type SafetensorsWeights } from './io/sharded.js';
export type { SafetensorsDtype } from './io/dtype.js';
export { backendNames } from './backend/select-backend.js';
export { ADAM_STEP, LORA_LINEAR, LORA_LINEAR_GRAD, NF4_DEQUANTIZE, nativeKernel } from './backend/native-kernel-names.js';
export { assertFitsBackend, type MemoryWorkload } from './backend/memory.js';
export { Linear } from './layers/linear.js';
export { Embedding, gatherRows } from './layers/embedding.js';
export { addScaled, fastFlaggedMatMul, isRecordingGradients } from './layers/tape.js';
export { variableGradsLean } from './layers/lean-grads.js';
export type { DecoderBlock } from './architectures/decoder-model.js';
export { createCausalLM } from './architectures/registry.js';
export { transformersName, isNonTextModule } from './architectures/module-names.js';
export type { LinearFactory } from './architectures/weight-reader.js';
export { NodeFileSource } from './io/file-source.js';
export { ShardedWeightSource } from './io/sharded.js';
export { GgufWeightSource } from './io/gguf/gguf-weight-source.js';
export { ggufToHfConfig } from './io/gguf/gguf-config.js';
export { ggufToHfTensorName } from './io/gguf/tensor-names.js';
export { installTensorflowKernels } from './backend/tensorflow-kernels.js';
export { ropeAttentionScaling, ropeInverseFrequencies } from './layers/rope.js';
export { readLlama2cCheckpoint } from './llama2c/index.js';
export { SUPPORTED_MODEL_TYPES } from './config/model-config.js';
export type { FinishReason } from './generate/generate.js';
export { customGrad, type CustomGradResult } from './layers/custom-grad.js';
export { GgmlLinear, GGML_KERNEL_TYPES } from './layers/ggml-linear.js';
export { nativeOpsStatus } from './backend/native-ops.js';
