import { validate } from '@lora/core/internal';
import { HfTokenizer } from '../hf-tokenizer.js';
import { TokenizerConfigSchema, TokenizerJsonSchema, settingsFromConfig } from '../tokenizer-config.js';
import type { GgufMetadata } from './gguf-metadata.js';
import { ggufTokenizerFiles } from './gguf-tokenizer.js';

/** Options of {@link tokenizerFromGguf}. */
export interface TokenizerFromGgufOptions {
  /** Name of the GGUF file, for error messages. */
  file?: string;
  /** Extra end-of-sequence ids, appended to the EOS and end-of-turn ids of the file. */
  extraEosTokenIds?: readonly number[];
}

/**
 * An `HfTokenizer` over the tokenizer a GGUF file describes (see `ggufTokenizerFiles`):
 * ids, special tokens and decoding equal transformers' `AutoTokenizer.from_pretrained(dir,
 * gguf_file=...)`; the chat template is `tokenizer.chat_template`; `eosTokenIds` are the EOS id
 * followed by the end-of-turn ids of the generation config.
 *
 * @param metadata - the metadata of the GGUF file (`openGguf(path).metadata`).
 * @throws FileFormatError when the metadata is malformed or its tokenizer kind is unsupported.
 *
 * @example
 * ```ts
 * const tok = tokenizerFromGguf((await openGguf(path)).metadata, { file: path });
 * tok.encode('Once upon a time'); // no BOS for SmolLM2
 * ```
 */
export function tokenizerFromGguf(metadata: GgufMetadata, options: TokenizerFromGgufOptions = {}): HfTokenizer {
  const file = options.file ?? 'GGUF metadata';
  const files = ggufTokenizerFiles(metadata, { file });
  const tokenizerJson = validate(files.tokenizerJson, TokenizerJsonSchema, { file: `${file} (tokenizer.json)` });
  const config = validate(files.tokenizerConfig, TokenizerConfigSchema, { file: `${file} (tokenizer_config.json)` });
  const eos = files.generationConfig.eos_token_id;
  const generationEosTokenIds = [...(eos === undefined ? [] : typeof eos === 'number' ? [eos] : eos), ...(options.extraEosTokenIds ?? [])];
  const settings = settingsFromConfig(config, { generationEosTokenIds });
  return HfTokenizer.fromJson(tokenizerJson, config, settings, { tokenizerJson: file, tokenizerConfig: file });
}
