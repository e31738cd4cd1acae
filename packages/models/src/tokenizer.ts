/**
 * The minimal text tokenizer the model package needs for generation and the CLI. The llama2.c
 * tokenizer here and the `tokenizer.json` tokenizers of `@lora/data` both satisfy it structurally.
 */
export interface TextTokenizer {
  /** Vocabulary size. */
  readonly vocabSize: number;
  /** Beginning-of-sequence token id, if the tokenizer has one. */
  readonly bosTokenId: number | undefined;
  /** End-of-sequence token id(s); generation stops on any of them. */
  readonly eosTokenIds: readonly number[];
  /**
   * Encodes text to ids with the special tokens the tokenizer adds (its own rule) by default;
   * `addSpecialTokens: false` adds none; `addBos` forces a BOS on (true) or every special token off
   * (false) and wins over `addSpecialTokens`.
   */
  encode(text: string, options?: { addBos?: boolean; addSpecialTokens?: boolean }): number[];
  /** Decodes ids to text; special tokens (BOS/EOS/pad) are skipped unless `skipSpecialTokens` is false. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}
