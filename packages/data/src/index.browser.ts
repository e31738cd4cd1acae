/**
 * Browser entry of `@lora/data` (the `browser` export condition): everything of the Node entry
 * except what reads files by path: `loadTokenizer` (build a tokenizer from `tokenizer.json` text
 * with `HfTokenizer`, or from `tokenizer.bin` bytes with `Llama2cTokenizer.fromBytes`), `readDataset` and `RecordReader`.
 *
 * @packageDocumentation
 */
export type {
  Tokenizer,
  TokenizerSettings,
  SpecialToken,
  EncodeOptions,
  DecodeOptions,
} from './tokenizers/tokenizer.js';
export { HfTokenizer, type HfTokenizerSources } from './tokenizers/hf-tokenizer.js';
export { Llama2cTokenizer } from './tokenizers/llama2c.js';
export { renderChat, encodeChat, type MaskMode, type EncodeChatOptions, type EncodedExample } from './chat/encode-chat.js';
export { STORIES_CHAT_TEMPLATE } from './chat/templates.js';
export type { ChatMessage as TemplateMessage } from './chat/messages.js';
export { formatReadReport, type ReadMode, type ReadReport } from './readers/read-report.js';
export { ChatMessageSchema, MessagesRecordSchema, type ChatMessage } from './formats/messages.js';
export {
  PromptCompletionRecordSchema,
  TextRecordSchema,
} from './formats/prompt-completion.js';
export { MultipleChoiceRecordSchema, type MultipleChoiceRecord } from './formats/multiple-choice.js';
export {
  toExample,
  type DatasetFormat,
  type Example,
} from './formats/example.js';
export type { TokenizedExample } from './transforms/tokenized-example.js';
export type { StratifyBy } from './transforms/allocate.js';
export { stratifiedSplit, type SplitResult, type StratumCounts } from './transforms/stratified-split.js';
export { collate } from './collate/collate.js';
export type { Batch } from './collate/batch.js';
export { exampleEncoder, type ExampleEncoder, type ExampleEncoderOptions } from './inspect/encode-example.js';
