/**
 * Browser entry of `@lora/core` (the `browser` export condition): everything of the Node entry
 * except the file-system helpers (`readRegularTextFile`, `statRegularFile`) and the asset
 * resolver (`resolveAsset`, which reads the Hugging Face cache). `openGguf(path)` is exported but
 * needs Node; `readGguf` parses GGUF from any byte source.
 *
 * @packageDocumentation
 */
export { LoraError, type LoraErrorOptions } from './errors/lora-error.js';
export { InvalidArgumentError } from './errors/invalid-argument-error.js';
export { FileFormatError } from './errors/file-format-error.js';
export { AssetNotFoundError } from './errors/asset-not-found-error.js';
export { parseJson, validate, formatIssuePath, type Source } from './schema.js';
export { Rng, type RngState } from './rng.js';
export { positiveIntegerFlag } from './flags.js';
export { nodeBuiltin, type NodeBuiltins } from './node-builtin.js';
export { progressLine, type ProgressLine, type ProgressLineOptions, type ProgressStream } from './progress.js';
export {
  openGguf,
  readGguf,
  type GgufFile,
  type GgufValue,
  type GgufTensorInfo,
  type GgufByteSource,
} from './gguf/gguf-reader.js';
export { GgmlType, ggmlTypeInfo, type GgmlTypeInfo } from './gguf/ggml-types.js';
export { ggufEndOfGenerationTokenIds, END_OF_TURN_TOKENS } from './gguf/gguf-end-of-generation.js';
