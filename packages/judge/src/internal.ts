/**
 * Internals of `@lora/judge` that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/judge`.
 *
 * @packageDocumentation
 */
export { createJsonSchemaAcceptor, type JsonSchemaAcceptor, type AcceptorState } from './constrained/json-schema-acceptor.js';
export { defaultJudgeCacheDir } from './runtime/disk-cache.js';
export { PairwiseVerdictSchema, ReferenceVerdictSchema, SafetyVerdictSchema, rubricScoreSchema } from './prompts/schemas.js';
export { defaultPrices } from './runtime/pricing.js';
export { hazardOfPromptSetCode } from './prompts/hazards.js';
export { loadApiKey } from './load-api-key.js';
