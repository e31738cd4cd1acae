/**
 * Internals of `@lora/peft` (browser build) that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/peft`.
 *
 * @packageDocumentation
 */
export { loraConfigToJson } from './config/lora-config.js';
export { loadAdapterWeights } from './io/load.js';
export { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from './io/format.js';
export { parseLoraConfig } from './config/lora-config.js';
export type { RebuildableLinear } from './layers/lora-linear.js';
