/**
 * Internals of `@lora/recipe` that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/recipe`.
 *
 * @packageDocumentation
 */
export { DataSectionSchema, QuantizationSectionSchema, EvaluationSectionSchema } from './recipe.js';
export { encodeSplit, batchExamples, recipeEncoder } from './split.js';
export { choosePreset, reportFiles, trainingSection } from './compare.js';
export { evalProgressText } from './progress.js';
