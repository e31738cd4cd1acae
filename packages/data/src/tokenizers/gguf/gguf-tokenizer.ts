import { FileFormatError } from '@lora/core';
import { ggufEndOfGenerationTokenIds } from '@lora/core/internal';
import { byteLevelSpelling, isByteLevelSpelled } from './byte-level.js';
import { GGUF_TOKEN_TYPE, type GgufMetadata, type GgufTokenizerMetadata, parseGgufTokenizerMetadata } from './gguf-metadata.js';
import { mergesFromScores } from './merges.js';
import { GGUF_PRE_TOKENIZER_SPLITS } from './pre-tokenizer-splits.js';

/** An added token of `tokenizer.json`, with the attributes transformers writes for GGUF tokens. */
export interface GgufAddedToken {
  readonly id: number;
  readonly content: string;
  readonly single_word: false;
  readonly lstrip: false;
  readonly rstrip: false;
  readonly normalized: false;
  /** Special tokens are skipped by `decode(..., skip_special_tokens=True)`. */
  readonly special: boolean;
}

/** The Hugging Face `tokenizer.json` object built from GGUF metadata (components as plain JSON). */
export interface GgufTokenizerJson {
  readonly version: '1.0';
  readonly truncation: null;
  readonly padding: null;
  readonly added_tokens: readonly GgufAddedToken[];
  readonly normalizer: null;
  readonly pre_tokenizer: Readonly<Record<string, unknown>>;
  readonly post_processor: Readonly<Record<string, unknown>>;
  readonly decoder: Readonly<Record<string, unknown>>;
  /** A BPE model: `vocab` (token → id) and `merges` (`[left, right]` pairs, best first). */
  readonly model: {
    readonly type: 'BPE';
    readonly vocab: Readonly<Record<string, number>>;
    readonly merges: readonly (readonly [string, string])[];
    readonly [flag: string]: unknown;
  };
}

/** The `tokenizer_config.json` fields that go with {@link GgufTokenizerJson}. */
export interface GgufTokenizerConfig {
  /** `PreTrainedTokenizerFast`: load `tokenizer.json` as is (transformers 4 and 5). */
  readonly tokenizer_class: 'PreTrainedTokenizerFast';
  readonly bos_token: string | null;
  readonly eos_token: string | null;
  readonly unk_token: string | null;
  readonly pad_token: string | null;
  /** Whether encoding prepends `bos_token` (the post-processor of the tokenizer.json agrees). */
  readonly add_bos_token: boolean;
  /** Whether encoding appends `eos_token`. */
  readonly add_eos_token: boolean;
  /** `tokenizer.chat_template`, when the file has one. */
  readonly chat_template?: string;
  readonly clean_up_tokenization_spaces: false;
}

/** The `generation_config.json` fields that go with the tokenizer. */
export interface GgufGenerationConfig {
  readonly bos_token_id?: number;
  /** The EOS id, followed by end-of-turn ids (see {@link ggufTokenizerFiles}); a number when there is one. */
  readonly eos_token_id?: number | readonly number[];
  readonly pad_token_id?: number;
}

/** The three files {@link ggufTokenizerFiles} builds. */
export interface GgufTokenizerFiles {
  /** `tokenizer.json`. */
  readonly tokenizerJson: GgufTokenizerJson;
  /** `tokenizer_config.json`. */
  readonly tokenizerConfig: GgufTokenizerConfig;
  /** `generation_config.json` (token ids only). */
  readonly generationConfig: GgufGenerationConfig;
}

/** Options of {@link ggufTokenizerFiles}. */
export interface GgufTokenizerOptions {
  /** Name of the GGUF file, for error messages. Default `"GGUF metadata"`. */
  file?: string;
}

/** Architectures whose SentencePiece GGUF tokenizer transformers builds differently (not supported here). */
const SENTENCEPIECE_VARIANTS = new Set(['gemma', 'gemma2', 'gemma3', 'phi3']);

const SUPPORTED = '"gpt2" (byte-level BPE) and "llama" (SentencePiece BPE with byte fallback)';

/** The tokenizer.json model parts of one tokenizer kind, before special tokens. */
interface Backbone {
  vocab: Map<string, number>;
  merges: [string, string][];
  modelFlags: Record<string, unknown>;
  preTokenizer: Record<string, unknown>;
  decoder: Record<string, unknown>;
  /** The special tokens the transformers class behind the kind defaults to, added before the file's. */
  defaultSpecials: string[];
  /** Token text as the vocabulary spells it (byte-level respelling). */
  spell: (token: string) => string;
}

function mergesOf(meta: GgufTokenizerMetadata, file: string): [string, string][] | undefined {
  const merges = meta['tokenizer.ggml.merges'];
  if (merges === undefined) return undefined;
  return merges.map((m, i) => {
    const parts = m.split(' ');
    if (parts.length !== 2) {
      throw new FileFormatError({ file, field: `tokenizer.ggml.merges[${i}]`, message: `expected "left right", got ${JSON.stringify(m)}` });
    }
    return parts as [string, string];
  });
}

function byteLevelBackbone(meta: GgufTokenizerMetadata, file: string): Backbone {
  const vocab = new Map<string, number>();
  meta['tokenizer.ggml.tokens'].forEach((t, i) => vocab.set(byteLevelSpelling(t), i));
  return {
    vocab,
    merges: mergesOf(meta, file) ?? [],
    modelFlags: {
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
    },
    preTokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    defaultSpecials: ['<|endoftext|>'],
    spell: byteLevelSpelling,
  };
}

function sentencePieceBackbone(meta: GgufTokenizerMetadata, file: string): Backbone {
  const tokens = meta['tokenizer.ggml.tokens'];
  const vocab = new Map<string, number>();
  tokens.forEach((t, i) => vocab.set(t, i));
  let merges = mergesOf(meta, file);
  if (merges === undefined) {
    const scores = meta['tokenizer.ggml.scores'];
    if (scores === undefined) {
      throw new FileFormatError({
        file,
        field: 'tokenizer.ggml.scores',
        message: 'a SentencePiece vocabulary without `tokenizer.ggml.merges` needs scores to rank its merges',
      });
    }
    merges = mergesFromScores(tokens, scores);
  }
  // transformers builds LlamaTokenizer(vocab, merges) with its defaults: prefix space on the first
  // piece only (`add_space_prefix` of the file is not consulted), byte fallback, no normalizer.
  return {
    vocab,
    merges,
    modelFlags: {
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
    },
    preTokenizer: { type: 'Metaspace', replacement: '\u2581', prepend_scheme: 'first', split: false },
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        { type: 'Strip', content: ' ', start: 1, stop: 0 },
      ],
    },
    defaultSpecials: ['<s>', '</s>', '<unk>'],
    spell: (t) => t,
  };
}

/** The added-token table, with ids assigned as `tokenizers` does for tokens outside the vocabulary. */
class AddedTokens {
  private readonly byContent = new Map<string, GgufAddedToken>();
  constructor(private readonly vocab: ReadonlyMap<string, number>) {}

  add(content: string, special: boolean): void {
    if (this.byContent.has(content)) return;
    let id = this.vocab.get(content);
    if (id === undefined) {
      let maxAdded = -1;
      for (const t of this.byContent.values()) maxAdded = Math.max(maxAdded, t.id);
      id = Math.max(this.vocab.size, maxAdded + 1);
    }
    this.byContent.set(content, { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
  }

  idOf(content: string): number | undefined {
    return this.byContent.get(content)?.id ?? this.vocab.get(content);
  }

  list(): GgufAddedToken[] {
    return [...this.byContent.values()].sort((a, b) => a.id - b.id);
  }
}

function templateProcessing(
  bos: { token: string; id: number } | undefined,
  eos: { token: string; id: number } | undefined,
): Record<string, unknown> {
  const special = (t: { token: string }, typeId: number) => ({ SpecialToken: { id: t.token, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number) => ({ Sequence: { id, type_id: typeId } });
  const part = (seq: 'A' | 'B', typeId: number) => [
    ...(bos === undefined ? [] : [special(bos, typeId)]),
    sequence(seq, typeId),
    ...(eos === undefined ? [] : [special(eos, typeId)]),
  ];
  const specialTokens: Record<string, unknown> = {};
  for (const t of [bos, eos]) if (t !== undefined) specialTokens[t.token] = { id: t.token, ids: [t.id], tokens: [t.token] };
  return { type: 'TemplateProcessing', single: part('A', 0), pair: [...part('A', 0), ...part('B', 1)], special_tokens: specialTokens };
}

/**
 * Builds Hugging Face tokenizer files from the `tokenizer.*` metadata of a GGUF file, exactly as
 * transformers does when loading `AutoTokenizer.from_pretrained(dir, gguf_file=...)`, so the
 * resulting tokenizer encodes and decodes to the same ids and text:
 *
 * - `tokenizer.ggml.model` = `"gpt2"`: byte-level BPE over `tokens` (respelled in the byte alphabet
 *   where llama.cpp stored raw text) and `merges`; GPT-2's ByteLevel pre-tokenizer, or the split
 *   regex transformers maps `tokenizer.ggml.pre` to (`llama-bpe`, `qwen2`, … ; SmolLM2's `smollm`
 *   keeps GPT-2's).
 * - `"llama"`: SentencePiece BPE with byte fallback over `tokens`, merges from the file or derived
 *   from `scores`; Metaspace pre-tokenizer (prefix space on the first piece); BOS added unless
 *   `tokenizer.ggml.add_bos_token` is false.
 *
 * In both, tokens typed CONTROL become special added tokens (byte-level: only when spelled in the
 * byte alphabet), USER_DEFINED tokens plain added tokens; the BOS/EOS/UNK/PAD of the file, and the
 * defaults of the transformers class behind each kind (`<|endoftext|>`; `<s>`, `</s>`, `<unk>`),
 * are special and appended to the vocabulary when absent, as transformers does.
 *
 * The generation config lists the EOS id followed by the end-of-turn ids of the file
 * (`ggufEndOfGenerationTokenIds` of `@lora/core`: `tokenizer.ggml.eot_token_id` / `eom_token_id`,
 * and CONTROL or USER_DEFINED tokens such as `<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`), so
 * generation stops at the end of an assistant turn.
 *
 * @param metadata - the metadata record of a GGUF file (`openGguf(path).metadata`).
 * @param options - the file name for error messages.
 * @returns plain objects to use or to write as `tokenizer.json`, `tokenizer_config.json` and
 *   `generation_config.json`.
 * @throws FileFormatError naming the key when the metadata is malformed or its tokenizer kind is
 *   not supported (gpt2 and llama are; Gemma/Phi-3 SentencePiece variants, t5 and others are not).
 *
 * @example
 * ```ts
 * const { tokenizerJson, tokenizerConfig } = ggufTokenizerFiles((await openGguf(path)).metadata);
 * tokenizerConfig.eos_token; // '<|im_end|>' for SmolLM2
 * ```
 */
export function ggufTokenizerFiles(metadata: GgufMetadata, options: GgufTokenizerOptions = {}): GgufTokenizerFiles {
  const file = options.file ?? 'GGUF metadata';
  const meta = parseGgufTokenizerMetadata(metadata, file);
  const kind = meta['tokenizer.ggml.model'];
  const architecture = meta['general.architecture'];
  let backbone: Backbone;
  if (kind === 'llama' && architecture !== undefined && SENTENCEPIECE_VARIANTS.has(architecture)) {
    throw new FileFormatError({
      file,
      field: 'general.architecture',
      message: `the ${architecture} SentencePiece tokenizer is not supported yet (supported: ${SUPPORTED}); convert it with transformers and load its tokenizer.json`,
    });
  } else if (kind === 'gpt2') backbone = byteLevelBackbone(meta, file);
  else if (kind === 'llama') backbone = sentencePieceBackbone(meta, file);
  else {
    throw new FileFormatError({
      file,
      field: 'tokenizer.ggml.model',
      message: `tokenizer kind ${JSON.stringify(kind)} is not supported (supported: ${SUPPORTED}); convert it with transformers and load its tokenizer.json`,
    });
  }

  const tokens = meta['tokenizer.ggml.tokens'];
  const types = meta['tokenizer.ggml.token_type'] ?? [];
  const added = new AddedTokens(backbone.vocab);
  for (const t of backbone.defaultSpecials) added.add(t, true);
  const byteLevel = kind === 'gpt2';
  tokens.forEach((t, i) => {
    // A control token outside the byte alphabet is a llama.cpp mislabel in a byte-level vocabulary.
    if (types[i] === GGUF_TOKEN_TYPE.control && (!byteLevel || isByteLevelSpelled(t))) added.add(t, true);
  });
  tokens.forEach((t, i) => {
    if (types[i] === GGUF_TOKEN_TYPE.userDefined && backbone.vocab.has(t)) added.add(t, false);
  });

  const tokenOf = (key: 'bos_token_id' | 'eos_token_id' | 'unknown_token_id' | 'padding_token_id'): string | null => {
    const id = meta[`tokenizer.ggml.${key}`];
    return id === undefined ? null : (tokens[id] as string);
  };
  const bosToken = tokenOf('bos_token_id');
  const eosToken = tokenOf('eos_token_id');
  const unkToken = tokenOf('unknown_token_id');
  const padToken = tokenOf('padding_token_id');
  for (const t of [bosToken, eosToken, unkToken, padToken]) if (t !== null) added.add(t, true);

  // Older SentencePiece files carry no flag, and llama.cpp adds BOS to them.
  const addBos = (meta['tokenizer.ggml.add_bos_token'] ?? kind === 'llama') && bosToken !== null;
  const addEos = (meta['tokenizer.ggml.add_eos_token'] ?? false) && eosToken !== null;
  const withId = (token: string | null) => (token === null ? undefined : { token, id: added.idOf(token) as number });

  let preTokenizer = backbone.preTokenizer;
  const split = GGUF_PRE_TOKENIZER_SPLITS[meta['tokenizer.ggml.pre'] ?? ''];
  if (split !== undefined) {
    preTokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: split }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
  }

  // A null-prototype object, so a token such as "__proto__" is an ordinary key.
  const vocab = Object.create(null) as Record<string, number>;
  for (const [token, id] of backbone.vocab) vocab[token] = id;
  const tokenizerJson: GgufTokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added.list(),
    normalizer: null,
    pre_tokenizer: preTokenizer,
    post_processor: templateProcessing(addBos ? withId(bosToken) : undefined, addEos ? withId(eosToken) : undefined),
    decoder: backbone.decoder,
    model: { type: 'BPE', ...backbone.modelFlags, vocab, merges: backbone.merges },
  };

  const chatTemplate = meta['tokenizer.chat_template'];
  const tokenizerConfig: GgufTokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: bosToken,
    eos_token: eosToken,
    unk_token: unkToken,
    pad_token: padToken,
    add_bos_token: addBos,
    add_eos_token: addEos,
    ...(chatTemplate === undefined ? {} : { chat_template: chatTemplate }),
    clean_up_tokenization_spaces: false,
  };

  const generationConfig: GgufGenerationConfig = {
    ...(meta['tokenizer.ggml.bos_token_id'] === undefined ? {} : { bos_token_id: meta['tokenizer.ggml.bos_token_id'] }),
    ...eosField(ggufEndOfGenerationTokenIds(metadata)),
    ...(meta['tokenizer.ggml.padding_token_id'] === undefined ? {} : { pad_token_id: meta['tokenizer.ggml.padding_token_id'] }),
  };
  return { tokenizerJson, tokenizerConfig, generationConfig };
}

function eosField(ids: number[]): { eos_token_id?: number | number[] } {
  if (ids.length === 0) return {};
  return { eos_token_id: ids.length === 1 ? (ids[0] as number) : ids };
}
