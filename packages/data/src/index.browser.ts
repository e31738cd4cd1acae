/**
 * Browser entry of `@lora/data` (the `browser` export condition): everything of the Node entry
 * except what reads files by path: `loadTokenizer` (build a tokenizer from `tokenizer.json` text
 * with `HfTokenizer`, or from `tokenizer.bin` bytes with `Llama2cTokenizer.fromBytes`), the
 * JSONL / JSON / CSV / Parquet readers, `readDataset`, `RecordReader` and `inspectDataset`.
 *
 * @packageDocumentation
 */
export type { Tokenizer, TokenizerSettings, SpecialToken, EncodeOptions, DecodeOptions } from './tokenizers/tokenizer.js';
export { HfTokenizer, type HfTokenizerSources } from './tokenizers/hf-tokenizer.js';
export { Llama2cTokenizer } from './tokenizers/llama2c.js';
export { Llama2cTokenizerAdapter } from './tokenizers/llama2c-adapter.js';
export {
  ggufTokenizerFiles,
  type GgufTokenizerFiles,
  type GgufTokenizerOptions,
  type GgufTokenizerJson,
  type GgufTokenizerConfig,
  type GgufGenerationConfig,
  type GgufAddedToken,
} from './tokenizers/gguf/gguf-tokenizer.js';
export { tokenizerFromGguf, type TokenizerFromGgufOptions } from './tokenizers/gguf/gguf-hf-tokenizer.js';
export { llama2cTokenizerFiles } from './tokenizers/llama2c-tokenizer-files.js';
export {
  GgufTokenizerMetadataSchema,
  GGUF_TOKEN_TYPE,
  type GgufMetadata,
  type GgufTokenizerMetadata,
} from './tokenizers/gguf/gguf-metadata.js';
export {
  TokenizerConfigSchema,
  GenerationConfigSchema,
  TokenizerJsonSchema,
  ChatTemplateJsonSchema,
  settingsFromConfig,
  chatTemplatesOf,
  type TokenizerConfigJson,
  type TokenizerJson,
} from './tokenizers/tokenizer-config.js';
export {
  ChatTemplate,
  resolveChatTemplate,
  specialTokenVariables,
  type RenderChatOptions,
  type RenderedChat,
  type ResolveChatTemplateOptions,
} from './chat/chat-template.js';
export {
  renderChat,
  encodeChat,
  encodePromptCompletion,
  type MaskMode,
  type EncodeChatOptions,
  type EncodedExample,
  type PromptCompletion,
  type EncodePromptCompletionOptions,
} from './chat/encode-chat.js';
export { STORIES_CHAT_TEMPLATE } from './chat/templates.js';
export { assistantSpansByPrefix, spansToTokenMask, type RenderFn } from './chat/masks.js';
export type { Tool, ChatMessage as TemplateMessage, TemplateToolCall } from './chat/messages.js';
export { formatReadReport, emptyReadReport, type ReadMode, type ReadReport, type SkippedRecord } from './readers/read-report.js';
export {
  ChatRoleSchema,
  ChatMessageSchema,
  ToolCallSchema,
  ToolDefinitionSchema,
  MessagesRecordSchema,
  MAX_MESSAGES_PER_RECORD,
  type ChatRole,
  type ChatMessage,
  type ToolCall,
  type ToolDefinition,
  type MessagesRecord,
} from './formats/messages.js';
export {
  PromptCompletionRecordSchema,
  TextRecordSchema,
  type PromptCompletionRecord,
  type TextRecord,
} from './formats/prompt-completion.js';
export { MultipleChoiceRecordSchema, optionLetter, multipleChoicePrompt, type MultipleChoiceRecord } from './formats/multiple-choice.js';
export {
  detectFormat,
  exampleSchema,
  toExample,
  type DatasetFormat,
  type Example,
  type ExampleSchemaOf,
  type ExampleMetadata,
  type MessagesExample,
  type PromptCompletionExample,
  type TextExample,
  type MultipleChoiceExample,
} from './formats/example.js';
export { IGNORE_INDEX, type TokenizedExample } from './transforms/tokenized-example.js';
export { largestRemainder, type StratifyBy } from './transforms/allocate.js';
export { stratifiedSplit, type SplitOptions, type SplitResult, type StratumCounts } from './transforms/stratified-split.js';
export { takeFewShotPool, type FewShotOptions, type FewShotResult } from './transforms/few-shot.js';
export { truncateExample, truncateExamples, type TruncateOptions, type TruncationStats } from './transforms/truncate.js';
export { padSequences, type PadOptions, type PaddedSequences } from './transforms/pad.js';
export { packSequences, type PackedSequence, type PackedDocument, type PackResult } from './transforms/pack.js';
export { blockDiagonalCausalMask, batchBlockDiagonalCausalMask, maskToRows } from './transforms/attention-mask.js';
export { collate, collatePacked, type CollateOptions, type CollatePackedOptions } from './collate/collate.js';
export type { Batch } from './collate/batch.js';
export { exampleEncoder, type ExampleEncoder, type ExampleEncoderOptions } from './inspect/encode-example.js';
export { renderTrainedTokens, type TokenDecoder, type RenderOptions } from './inspect/render.js';
