/**
 * Internals of `@lora/models` that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/models`.
 *
 * @packageDocumentation
 */
export * from './internal.browser.js';

// Node only (files by path): left out of the browser build.
export { writeJsonAtomic } from './io/hf-checkpoint-writer.js';
export { writeShardedSafetensors } from './io/sharded-writer.js';
