/**
 * Tensor-free foundation shared by every `@lora` package: error classes, {@link parseJson},
 * a seeded RNG and the asset resolver. What the other `@lora` packages share beyond that (GGUF
 * reading, schema validation, file helpers, the progress line) is in `@lora/core/internal`, which
 * is not covered by semver.
 *
 * @packageDocumentation
 */
export * from './index.browser.js';
export { resolveAsset } from './assets.js';
