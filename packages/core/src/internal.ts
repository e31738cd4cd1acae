/**
 * Internals of `@lora/core` that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/core`.
 *
 * @packageDocumentation
 */
export * from './internal.browser.js';

// Node only (files by path): left out of the browser build.
export { readRegularTextFile, statRegularFile } from './read-file.js';
