/**
 * Tensor-free foundation shared by every `@lora` package: error classes, zod schema helpers,
 * a seeded RNG, the asset resolver and the progress display.
 *
 * @packageDocumentation
 */
export * from './index.browser.js';

// Node only (files by path): left out of the browser entry.
export { readRegularTextFile, statRegularFile, type ReadRegularTextFileOptions } from './read-file.js';
export { resolveAsset, type ResolveAssetOptions, type AssetKind, type DownloadProgress } from './assets.js';
