/**
 * Internals of `@lora/quant` that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/quant`.
 *
 * @packageDocumentation
 */
export { compressAbsmax, decompressAbsmax } from './blockwise.js';
export { quantStateTensors, readQuantState } from './format.js';
export { gatherRows } from './pack.js';
export { quantizeState } from './nf4-linear.js';
