import { Tokenizer as HfTokenizerCore } from '@huggingface/tokenizers';
import { FileFormatError, InvalidArgumentError } from '@lora/core';
import type { TokenizerJson } from './tokenizer-config.js';
import type { DecodeOptions, EncodeOptions, SpecialToken, Tokenizer, TokenizerSettings } from './tokenizer.js';

/** Where the files of a `HfTokenizer` came from, for error messages. */
export interface HfTokenizerSources {
  /** Name or path of `tokenizer.json`. */
  readonly tokenizerJson: string;
  /** Name or path of `tokenizer_config.json`. */
  readonly tokenizerConfig: string;
}

/**
 * A Hugging Face `tokenizer.json` tokenizer (BPE, Unigram, WordPiece with their normalizers,
 * pre-tokenizers, post-processors and decoders), run by `@huggingface/tokenizers` (pure JS, no
 * network). Ids equal Python `tokenizers` / transformers' `AutoTokenizer` (see CHOICE.md).
 * Build one with `loadTokenizer(dir)` or {@link HfTokenizer.fromJson}.
 */
export class HfTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | undefined;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | undefined;
  readonly unkTokenId: number | undefined;
  readonly specialTokens: readonly SpecialToken[];
  readonly settings: TokenizerSettings;

  private readonly core: HfTokenizerCore;
  private readonly specialIds: ReadonlySet<number>;
  private readonly cleanUpSpaces: boolean;

  private constructor(
    core: HfTokenizerCore,
    json: TokenizerJson,
    settings: TokenizerSettings,
    cleanUpSpaces: boolean,
    sources: HfTokenizerSources,
  ) {
    this.core = core;
    this.settings = settings;
    this.cleanUpSpaces = cleanUpSpaces;
    let maxId = -1;
    for (const id of core.get_vocab(true).values()) if (id > maxId) maxId = id;
    this.vocabSize = maxId + 1;
    this.specialTokens = Object.freeze(
      json.added_tokens
        .filter((t) => t.special === true)
        .map((t) => Object.freeze({ id: t.id, content: t.content }))
        .sort((a, b) => a.id - b.id),
    );
    this.specialIds = new Set(this.specialTokens.map((t) => t.id));
    const idOf = (token: string | undefined, field: string): number | undefined => {
      if (token === undefined) return undefined;
      const id = core.token_to_id(token);
      if (id === undefined) {
        throw new FileFormatError({
          file: sources.tokenizerConfig,
          field,
          message: `token ${JSON.stringify(token)} is not in the vocabulary of ${sources.tokenizerJson}; fix \`${field}\` or use the matching tokenizer.json`,
        });
      }
      return id;
    };
    this.bosTokenId = idOf(settings.bosToken, 'bos_token');
    this.unkTokenId = idOf(settings.unkToken, 'unk_token');
    const eos = idOf(settings.eosToken, 'eos_token');
    const eosIds: number[] = eos === undefined ? [] : [eos];
    for (const id of settings.generationEosTokenIds ?? []) if (!eosIds.includes(id)) eosIds.push(id);
    this.eosTokenIds = Object.freeze(eosIds);
    this.padTokenId = idOf(settings.padToken, 'pad_token') ?? eosIds[0];
  }

  /**
   * Builds a tokenizer from parsed `tokenizer.json` and `tokenizer_config.json` objects.
   *
   * @param tokenizerJson - the whole parsed `tokenizer.json` (validated by the caller).
   * @param tokenizerConfig - the whole parsed `tokenizer_config.json` (passed to the library as is).
   * @param settings - the typed view of the config (see `settingsFromConfig`).
   * @param sources - file names for error messages.
   * @throws FileFormatError when a component is unsupported or a special token is not in the vocabulary.
   */
  static fromJson(
    tokenizerJson: TokenizerJson,
    tokenizerConfig: Record<string, unknown>,
    settings: TokenizerSettings,
    sources: HfTokenizerSources,
  ): HfTokenizer {
    let core: HfTokenizerCore;
    try {
      core = new HfTokenizerCore(tokenizerJson, tokenizerConfig);
    } catch (error) {
      throw new FileFormatError({
        file: sources.tokenizerJson,
        message: `@huggingface/tokenizers cannot build this tokenizer: ${(error as Error).message}`,
        cause: error,
      });
    }
    matchRustByteFallback((core as unknown as { decoder?: unknown }).decoder);
    // transformers v5 applies clean_up_tokenization_spaces only to WordPiece tokenizers.
    const cleanUp = tokenizerJson.model.type === 'WordPiece' && tokenizerConfig['clean_up_tokenization_spaces'] === true;
    return new HfTokenizer(core, tokenizerJson, settings, cleanUp, sources);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw new InvalidArgumentError({ argument: 'text', message: `expected a string, got ${typeof text}` });
    }
    const addSpecial = options.addBos ?? options.addSpecialTokens ?? true;
    const ids = this.core.encode(text, { add_special_tokens: addSpecial }).ids;
    if (options.addBos === true && this.bosTokenId !== undefined && ids[0] !== this.bosTokenId) {
      ids.unshift(this.bosTokenId);
    }
    return ids;
  }

  encodeBatch(texts: readonly string[], options: EncodeOptions = {}): number[][] {
    return texts.map((t) => this.encode(t, options));
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const kept = skip ? ids.filter((id) => !this.specialIds.has(id)) : ids;
    if (kept.length === 0) return '';
    for (const id of kept) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new InvalidArgumentError({ argument: 'ids', message: `token id ${id} is outside [0, ${this.vocabSize})` });
      }
    }
    return this.core.decode([...kept], {
      skip_special_tokens: skip,
      clean_up_tokenization_spaces: this.cleanUpSpaces,
    });
  }

  decodeBatch(batch: readonly (readonly number[])[], options: DecodeOptions = {}): string[] {
    return batch.map((ids) => this.decode(ids, options));
  }

  tokenToId(token: string): number | undefined {
    return this.core.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return this.core.id_to_token(id);
  }
}

/**
 * tokenizers.js decodes a run of `<0xNN>` tokens with a default `TextDecoder`, which drops a
 * leading U+FEFF and replaces invalid bytes per maximal subpart. Rust `tokenizers` keeps the BOM
 * and, when the run is not valid UTF-8, yields one U+FFFD per byte. Give every ByteFallback step
 * of the decoder that behaviour (the library keeps its TextDecoder in `text_decoder`, and its
 * decoders are callable objects; unknown shapes are left alone).
 */
function matchRustByteFallback(decoder: unknown): void {
  if ((typeof decoder !== 'object' && typeof decoder !== 'function') || decoder === null) return;
  const d = decoder as { config?: { type?: unknown }; decoders?: unknown; text_decoder?: unknown };
  if (Array.isArray(d.decoders)) for (const inner of d.decoders) matchRustByteFallback(inner);
  if (d.config?.type === 'ByteFallback' && d.text_decoder !== undefined) {
    const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    d.text_decoder = {
      decode(bytes: Uint8Array): string {
        try {
          return strict.decode(bytes);
        } catch {
          return '\uFFFD'.repeat(bytes.length);
        }
      },
    };
  }
}
