/**
 * Internals of `@lora/peft` that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/peft`.
 *
 * @packageDocumentation
 */
export * from './internal.browser.js';
