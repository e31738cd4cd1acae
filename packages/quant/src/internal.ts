/**
 * Internals of `@lora/quant` that other `@lora` packages, examples, benchmarks and tools build on
 * (e.g. `@lora/train`'s AdamW8bit: the unsigned dynamic map and block-by-block 8-bit
 * requantization). Free of the root entry's Node-only checkpoint code, so browser bundles can import
 * it. Not part of the public API and not covered by semver: names here may change or go in any
 * release. Users import from `@lora/quant`.
 *
 * @packageDocumentation
 */
export { compressAbsmax, decompressAbsmax, quantizeBlock8bit } from './blockwise.js';
export { dynamicMap } from './codebooks/codebooks.js';
export { quantStateTensors, readQuantState } from './format.js';
export { gatherRows } from './pack.js';
export { quantizeState } from './nf4-linear.js';
