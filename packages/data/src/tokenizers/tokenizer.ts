/** A special token of a tokenizer: an added token flagged `special` in `tokenizer.json`. */
export interface SpecialToken {
  /** Token id. */
  readonly id: number;
  /** Token text, e.g. `<|im_end|>`. */
  readonly content: string;
}

/**
 * The fields of `tokenizer_config.json` (and `generation_config.json`) that `@lora` uses, in camelCase,
 * with special tokens resolved to plain strings.
 */
export interface TokenizerSettings {
  /** Chat templates by name; a single `chat_template` string is stored as `"default"`. */
  readonly chatTemplates: Readonly<Record<string, string>>;
  /** `bos_token` text, if any. */
  readonly bosToken: string | undefined;
  /** `eos_token` text, if any. */
  readonly eosToken: string | undefined;
  /** `pad_token` text, if any. */
  readonly padToken: string | undefined;
  /** `unk_token` text, if any. */
  readonly unkToken: string | undefined;
  /** `add_bos_token`, when the file sets it (informational: `tokenizer.json`'s post-processor decides). */
  readonly addBosToken: boolean | undefined;
  /** `add_eos_token`, when the file sets it (informational, as above). */
  readonly addEosToken: boolean | undefined;
  /** `model_max_length`, when present. */
  readonly modelMaxLength: number | undefined;
  /** `padding_side`, when present. */
  readonly paddingSide: 'left' | 'right' | undefined;
  /** `tokenizer_class`, when present. */
  readonly tokenizerClass: string | undefined;
  /** `eos_token_id` of `generation_config.json` (number or list), when that file exists. */
  readonly generationEosTokenIds: readonly number[] | undefined;
}

/**
 * A text tokenizer as `@lora` uses it: a structural superset of `TextTokenizer` in `@lora/models`
 * (vocabSize, bosTokenId, eosTokenIds, encode, decode), so it can be passed to generation directly.
 */
export interface Tokenizer {
  /** Number of ids, including added tokens (`len(tokenizer)` in transformers). */
  readonly vocabSize: number;
  /** Beginning-of-sequence id, if the tokenizer has one. */
  readonly bosTokenId: number | undefined;
  /** End-of-sequence ids: the `eos_token` first, then `generation_config.json`'s extra ids. */
  readonly eosTokenIds: readonly number[];
  /** Padding id: `pad_token` when set, else the first EOS id (no token is ever added). */
  readonly padTokenId: number | undefined;
  /** Unknown-token id, if any. */
  readonly unkTokenId: number | undefined;
  /** Special tokens (added tokens flagged `special`), in id order. */
  readonly specialTokens: readonly SpecialToken[];
  /** Settings read from `tokenizer_config.json` / `generation_config.json`. */
  readonly settings: TokenizerSettings;
  /**
   * Encodes text. By default special tokens are added as the tokenizer's post-processor says
   * (transformers' `add_special_tokens=True`). `addSpecialTokens: false` adds none; `addBos`
   * forces a BOS on (prepended once) or off (no special tokens at all).
   */
  encode(text: string, options?: EncodeOptions): number[];
  /** {@link Tokenizer.encode} for each text. */
  encodeBatch(texts: readonly string[], options?: EncodeOptions): number[][];
  /** Decodes ids; special tokens are skipped unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** {@link Tokenizer.decode} for each id list. */
  decodeBatch(batch: readonly (readonly number[])[], options?: DecodeOptions): string[];
  /** Id of a token string (vocabulary or added token), or undefined. */
  tokenToId(token: string): number | undefined;
  /** Token string of an id, or undefined when out of range. */
  idToToken(id: number): string | undefined;
}

/** Options of {@link Tokenizer.encode}. */
export interface EncodeOptions {
  /** Add the post-processor's special tokens (BOS/EOS templates). Default true. */
  addSpecialTokens?: boolean;
  /** true: make sure the ids start with BOS; false: add no special tokens. Overrides `addSpecialTokens`. */
  addBos?: boolean;
}

/** Options of {@link Tokenizer.decode}. */
export interface DecodeOptions {
  /** Drop special tokens from the text. Default true. */
  skipSpecialTokens?: boolean;
}
