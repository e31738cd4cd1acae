/**
 * Browser entry of `@lora/core` (the `browser` export condition): everything of the Node entry
 * except the asset resolver (`resolveAsset`, which reads the Hugging Face cache).
 *
 * @packageDocumentation
 */
export { LoraError, type LoraErrorOptions } from './errors/lora-error.js';
export { InvalidArgumentError } from './errors/invalid-argument-error.js';
export { FileFormatError } from './errors/file-format-error.js';
export { AssetNotFoundError } from './errors/asset-not-found-error.js';
export { parseJson, type Source } from './schema.js';
export { Rng } from './rng.js';
