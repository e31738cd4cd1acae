/**
 * Data for fine-tuning and evaluation, from files users already have: tokenizers
 * (`tokenizer.json` with ids identical to Python `tokenizers`, llama2.c `tokenizer.bin`), chat
 * templates rendered like transformers' `apply_chat_template`, assistant-only and completion-only
 * masks, streaming JSONL / JSON / CSV / Parquet readers validated with zod, stratified splits,
 * few-shot pools, truncation, padding, packing and collation. Tensor-free: the `./tensors` subpath
 * turns a collated batch into tfjs tensors.
 *
 * @example
 * ```ts
 * import { loadTokenizer, encodeChat } from '@lora/data';
 * const tok = await loadTokenizer('/models/Qwen3-0.6B');
 * const { inputIds, labelsMask } = encodeChat(tok, [
 *   { role: 'user', content: 'Open the window' },
 *   { role: 'assistant', content: '<ACTION>{"name":"car.window.set_level"}</ACTION>' },
 * ]);
 * ```
 *
 * @packageDocumentation
 */
export { loadTokenizer, type LoadTokenizerOptions } from './tokenizers/load-tokenizer.js';
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
export type { Tool } from './chat/messages.js';

export { readJsonl, DEFAULT_MAX_LINE_BYTES, type JsonlReaderOptions } from './readers/jsonl.js';
export { readJson, type JsonReaderOptions } from './readers/json.js';
export { readCsv, type CsvReaderOptions } from './readers/csv.js';
export { readParquet, type ParquetReaderOptions } from './readers/parquet.js';
export { readDataset, fileTypeOf, type DatasetFileType, type DatasetReaderOptions } from './readers/read-dataset.js';
export { RecordReader, type ReaderOptions, type LocatedRecord } from './readers/record-reader.js';
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
export {
  inspectDataset,
  recordStats,
  DatasetInspection,
  type InspectOptions,
  type RecordStats,
  type InspectedRecord,
  type InspectSummary,
} from './inspect/inspect-dataset.js';
export { exampleEncoder, type ExampleEncoder, type ExampleEncoderOptions } from './inspect/encode-example.js';
export { renderTrainedTokens, type TokenDecoder, type RenderOptions } from './inspect/render.js';
