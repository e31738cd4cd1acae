/**
 * Internals of `@lora/data` (browser build) that other `@lora` packages, examples, benchmarks and tools build on.
 * Not part of the public API and not covered by semver: names here may change or go in any release.
 * Users import from `@lora/data`.
 *
 * @packageDocumentation
 */
export { ggufTokenizerFiles } from './tokenizers/gguf/gguf-tokenizer.js';
export { llama2cTokenizerFiles } from './tokenizers/llama2c-tokenizer-files.js';
export { ChatTemplate, resolveChatTemplate, specialTokenVariables } from './chat/chat-template.js';
export { optionLetter, multipleChoicePrompt } from './formats/multiple-choice.js';
export { exampleSchema } from './formats/example.js';
export { largestRemainder } from './transforms/allocate.js';
export { takeFewShotPool } from './transforms/few-shot.js';
export { truncateExamples } from './transforms/truncate.js';
export { packSequences } from './transforms/pack.js';
export { collatePacked } from './collate/collate.js';
export { renderTrainedTokens } from './inspect/render.js';
export { tokenizerFromGguf } from './tokenizers/gguf/gguf-hf-tokenizer.js';
export { encodePromptCompletion } from './chat/encode-chat.js';
export { detectFormat } from './formats/example.js';
