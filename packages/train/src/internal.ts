/**
 * Internals of `@lora/train` that other @lora packages build on (`@lora/recipe`'s run folders).
 * Not part of the public API: names here may change in any release.
 *
 * @packageDocumentation
 */
export { acquireRunLock, claimRunFolder } from './checkpoints/run-folder.js';
