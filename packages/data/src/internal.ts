/**
 * Internals of `@lora/data` that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/data`.
 *
 * @packageDocumentation
 */
export * from './internal.browser.js';

// Node only (files by path): left out of the browser build.
export { readJsonl } from './readers/jsonl.js';
export { readCsv } from './readers/csv.js';
export { inspectDataset, recordStats, type InspectSummary } from './inspect/inspect-dataset.js';
