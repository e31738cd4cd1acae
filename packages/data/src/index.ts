/**
 * Data for fine-tuning and evaluation, from files users already have: tokenizers
 * (`tokenizer.json` with ids identical to Python `tokenizers`, llama2.c `tokenizer.bin`), chat
 * templates rendered like transformers' `apply_chat_template`, assistant-only and completion-only
 * masks, streaming JSONL / JSON / CSV / Parquet readers validated with zod, stratified splits and
 * collation (`sft` in `@lora/train` truncates and packs). Tensor-free: the `./tensors` subpath
 * turns a collated batch into tfjs tensors. Helpers the other `@lora` packages share are in
 * `@lora/data/internal`, which is not covered by semver.
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
export * from './index.browser.js';

// Node only (files by path): left out of the browser entry.
export { loadTokenizer } from './tokenizers/load-tokenizer.js';
export { readDataset, type DatasetReaderOptions } from './readers/read-dataset.js';
export { RecordReader, type LocatedRecord } from './readers/record-reader.js';
