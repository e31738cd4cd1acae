/**
 * Internals of `@lora/core` (browser build) that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/core`.
 *
 * @packageDocumentation
 */
export { validate, formatIssuePath } from './schema.js';
export { positiveIntegerFlag } from './flags.js';
export { nodeBuiltin } from './node-builtin.js';
export { progressLine, type ProgressLine } from './progress.js';
export { openGguf, readGguf, type GgufFile, type GgufValue, type GgufTensorInfo } from './gguf/gguf-reader.js';
export { GgmlType, ggmlTypeInfo } from './gguf/ggml-types.js';
export { ggufEndOfGenerationTokenIds } from './gguf/gguf-end-of-generation.js';
