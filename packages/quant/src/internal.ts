/**
 * Internals of `@lora/quant` that other @lora packages build on (`@lora/train`'s AdamW8bit: the
 * unsigned dynamic map and block-by-block 8-bit requantization). Free of the root entry's Node-only
 * checkpoint code, so browser bundles can import it. Not part of the public API: names here may
 * change in any release.
 *
 * @packageDocumentation
 */
export { dynamicMap } from './codebooks/codebooks.js';
export { quantizeBlock8bit } from './blockwise.js';
