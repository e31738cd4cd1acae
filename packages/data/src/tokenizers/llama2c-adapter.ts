import { Llama2cTokenizer } from './llama2c.js';
import type { DecodeOptions, EncodeOptions, SpecialToken, Tokenizer, TokenizerSettings } from './tokenizer.js';

const utf8 = new TextDecoder('utf-8');

/**
 * {@link Tokenizer} over a llama2.c `tokenizer.bin` (e.g. stories260K's `tok512.bin`): adds the
 * batch, pad and vocabulary-lookup methods to {@link Llama2cTokenizer}. llama2.c tokenizers have
 * no chat template (use `STORIES_CHAT_TEMPLATE`) and do not recognise special tokens inside text.
 */
export class Llama2cTokenizerAdapter implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  readonly specialTokens: readonly SpecialToken[];
  readonly settings: TokenizerSettings;
  /** The wrapped llama2.c tokenizer. */
  readonly inner: Llama2cTokenizer;
  private lookup: Map<string, number> | undefined;

  constructor(inner: Llama2cTokenizer) {
    this.inner = inner;
    this.vocabSize = inner.vocabSize;
    this.bosTokenId = inner.bosTokenId;
    this.eosTokenIds = Object.freeze([...inner.eosTokenIds]);
    this.padTokenId = this.eosTokenIds[0];
    this.unkTokenId = inner.unkTokenId;
    const specialIds = [inner.unkTokenId, inner.bosTokenId, ...inner.eosTokenIds];
    this.specialTokens = Object.freeze(
      [...new Set(specialIds)].sort((a, b) => a - b).map((id) => Object.freeze({ id, content: this.idToToken(id) ?? '' })),
    );
    const text = (id: number | undefined): string | undefined => (id === undefined ? undefined : this.idToToken(id));
    this.settings = Object.freeze({
      chatTemplates: Object.freeze({}),
      bosToken: text(this.bosTokenId),
      eosToken: text(this.eosTokenIds[0]),
      padToken: undefined,
      unkToken: text(this.unkTokenId),
      addBosToken: true,
      addEosToken: false,
      modelMaxLength: undefined,
      paddingSide: undefined,
      tokenizerClass: 'llama2.c',
      generationEosTokenIds: undefined,
    });
  }

  /**
   * Reads a llama2.c `tokenizer.bin`.
   *
   * @param options.vocabSize - the model's `vocab_size`, checked against the file.
   * @throws AssetNotFoundError when the file is missing; FileFormatError when it is malformed.
   */
  static async fromFile(file: string, options: { vocabSize?: number } = {}): Promise<Llama2cTokenizerAdapter> {
    return new Llama2cTokenizerAdapter(await Llama2cTokenizer.fromFile(file, options));
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    return this.inner.encode(text, { addBos: options.addBos ?? options.addSpecialTokens ?? true });
  }

  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    return this.inner.decode(ids, options);
  }

  decodeBatch(batch: readonly (readonly number[])[], options: DecodeOptions = {}): string[] {
    return batch.map((ids) => this.decode(ids, options));
  }

  tokenToId(token: string): number | undefined {
    if (this.lookup === undefined) {
      this.lookup = new Map();
      for (let id = 0; id < this.vocabSize; id++) {
        const t = this.idToToken(id);
        if (t !== undefined && !this.lookup.has(t)) this.lookup.set(t, id);
      }
    }
    return this.lookup.get(token);
  }

  idToToken(id: number): string | undefined {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return undefined;
    return utf8.decode(this.inner.piece(id));
  }
}
