/**
 * Tensor-free foundation shared by every `@lora` package: error classes, zod schema helpers,
 * a seeded RNG, the asset resolver and the progress display.
 *
 * @packageDocumentation
 */
export { LoraError, type LoraErrorOptions } from './errors/lora-error.js';
export { InvalidArgumentError } from './errors/invalid-argument-error.js';
export { FileFormatError } from './errors/file-format-error.js';
export { AssetNotFoundError } from './errors/asset-not-found-error.js';
export { parseJson, validate, formatIssuePath, type Source } from './schema.js';
export { Rng, type RngState } from './rng.js';
export { readRegularTextFile, statRegularFile, type ReadRegularTextFileOptions } from './read-file.js';
export { positiveIntegerFlag } from './flags.js';
export { nodeBuiltin, type NodeBuiltins } from './node-builtin.js';
export { progressLine, type ProgressLine, type ProgressLineOptions, type ProgressStream } from './progress.js';
export { resolveAsset, type ResolveAssetOptions, type AssetKind, type DownloadProgress } from './assets.js';
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
