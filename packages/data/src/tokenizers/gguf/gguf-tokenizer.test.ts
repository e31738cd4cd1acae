import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { openGguf } from '@lora/core/internal';
import { describe, expect, it } from 'vitest';
import { encodeChat, renderChat } from '../../chat/encode-chat.js';
import type { ChatMessage } from '../../formats/messages.js';
import { readFixture } from '../../test/reference-tokenizers.js';
import { readSentencePieceModel } from '../../test/sentencepiece-model.js';
import { loadTokenizer } from '../load-tokenizer.js';
import type { Tokenizer } from '../tokenizer.js';
import { tokenizerFromGguf } from './gguf-hf-tokenizer.js';
import type { GgufMetadata } from './gguf-metadata.js';
import { type GgufTokenizerFiles, ggufTokenizerFiles } from './gguf-tokenizer.js';

// Fixtures: tools/parity/data/make_gguf_tokenizer_fixtures.py (transformers 5.23,
// AutoTokenizer.from_pretrained(dir, gguf_file=...)).
interface Encodings {
  texts: string[];
  ids: number[][];
  idsPlain: number[][];
  decoded: [string[], string[]];
}
interface Reference extends Encodings {
  backend: Record<string, unknown>;
  config: Record<string, unknown>;
  len: number;
}
interface SyntheticFixture {
  cases: (Reference & { name: string; metadata: GgufMetadata; byteRuns?: { ids: number[][]; decoded: string[] } })[];
}
interface StoriesFixture extends Reference {
  metadataSha256: string;
  specialIds: { bos: number; eos: number; unk: number };
}
interface SmolLm2Fixture extends Reference {
  chats: { messages: ChatMessage[]; addGenerationPrompt: boolean; textSha256: string; ids: number[] }[];
}

const sha256 = (value: unknown) => createHash('sha256').update(JSON.stringify(value)).digest('hex');
const sha256Text = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

/** tokenizer.json with the vocabulary and merges replaced by the digests the fixture stores. */
function digested(json: GgufTokenizerFiles['tokenizerJson']): unknown {
  const { vocab, merges, ...model } = json.model;
  const entries = Object.entries(vocab).sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { ...json, model: { ...model, vocabSha256: sha256(entries), mergesSha256: sha256(merges) } };
}

function configView(files: GgufTokenizerFiles): Record<string, unknown> {
  const c = files.tokenizerConfig;
  return {
    bos_token: c.bos_token,
    eos_token: c.eos_token,
    unk_token: c.unk_token,
    pad_token: c.pad_token,
    add_bos_token: c.add_bos_token,
    add_eos_token: c.add_eos_token,
    chat_templateSha256: c.chat_template === undefined ? null : sha256Text(c.chat_template),
  };
}

/** Texts whose ids or decodes differ from the reference (empty when at parity). */
function mismatches(tok: Tokenizer, fx: Encodings): string[] {
  const bad: string[] = [];
  fx.texts.forEach((text, i) => {
    const ids = tok.encode(text);
    const same =
      JSON.stringify(ids) === JSON.stringify(fx.ids[i]) &&
      JSON.stringify(tok.encode(text, { addSpecialTokens: false })) === JSON.stringify(fx.idsPlain[i]) &&
      tok.decode(fx.ids[i] ?? [], { skipSpecialTokens: false }) === fx.decoded[0][i] &&
      tok.decode(fx.ids[i] ?? []) === fx.decoded[1][i];
    if (!same) bad.push(text);
  });
  return bad;
}

describe('ggufTokenizerFiles on hand-made metadata', () => {
  const { cases } = readFixture<SyntheticFixture>('gguf/synthetic.json');

  it.each(cases.map((c) => [c.name, c] as const))("%s: builds transformers' tokenizer.json and ids", (_name, c) => {
    const files = ggufTokenizerFiles(c.metadata);
    expect(JSON.parse(JSON.stringify(files.tokenizerJson))).toEqual(c.backend);
    expect(configView(files)).toEqual(c.config);
    const tok = tokenizerFromGguf(c.metadata);
    expect(tok.vocabSize).toBe(c.len);
    expect(mismatches(tok, c)).toEqual([]);
    // Byte-fallback runs that are not UTF-8 give one U+FFFD per byte, and a BOM is kept, as in Rust.
    c.byteRuns?.ids.forEach((ids, i) => expect(tok.decode(ids, { skipSpecialTokens: false })).toBe(c.byteRuns?.decoded[i]));
    if (c.name === 'sentencepiece') expect(c.byteRuns?.ids.length).toBe(4);
  });

  it('lists EOS then end-of-turn ids in the generation config', () => {
    const base = cases[0]?.metadata as GgufMetadata;
    const tokens = [...(base['tokenizer.ggml.tokens'] as string[]), '<|im_end|>', '<|eot_id|>'];
    const types = [...(base['tokenizer.ggml.token_type'] as number[]), 3, 1];
    const files = ggufTokenizerFiles({
      ...base,
      'tokenizer.ggml.tokens': tokens,
      'tokenizer.ggml.token_type': types,
      'tokenizer.ggml.eom_token_id': 3,
    });
    // <|eot_id|> is typed NORMAL here, so it is not an end-of-turn token.
    expect(files.generationConfig).toEqual({ bos_token_id: 266, eos_token_id: [265, 3, tokens.length - 2] });
    const tok = tokenizerFromGguf(
      { ...base, 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.token_type': types },
      { extraEosTokenIds: [7] },
    );
    expect(tok.eosTokenIds).toEqual([265, tokens.length - 2, 7]);
  });

  it('names the file and key of bad or unsupported metadata', () => {
    const base = cases[1]?.metadata as GgufMetadata;
    const error = (() => {
      try {
        ggufTokenizerFiles({ ...base, 'tokenizer.ggml.scores': [1, 2] }, { file: 'x.gguf' });
      } catch (e) {
        return e;
      }
    })();
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect(String(error)).toMatch(/x\.gguf \(tokenizer\.ggml\.scores\).*2 entries/);
    expect(() => ggufTokenizerFiles({ ...base, 'tokenizer.ggml.model': 'rwkv' })).toThrow(
      /tokenizer\.ggml\.model.*"rwkv" is not supported/,
    );
    expect(() => ggufTokenizerFiles({ ...base, 'general.architecture': 'gemma3' })).toThrow(/general\.architecture.*gemma3/);
    expect(() => ggufTokenizerFiles({ ...base, 'tokenizer.ggml.eos_token_id': 10_000 })).toThrow(/eos_token_id.*outside/);
    expect(() => ggufTokenizerFiles({ ...base, 'tokenizer.ggml.merges': ['a b c'] })).toThrow(/merges\[0\]/);
    const { 'tokenizer.ggml.scores': _scores, ...noScores } = base;
    expect(() => ggufTokenizerFiles(noScores)).toThrow(/tokenizer\.ggml\.scores/);
  });
});

const assets = process.env.LORA_ASSETS_DIR;
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[gguf tokenizer] ${skipReason}`);
const tok512 = assets === undefined ? '' : join(assets, 'models', 'stories260K', 'tok512.model');
const smolDir = assets === undefined ? '' : join(assets, 'models', 'SmolLM2-135M-Instruct');
const smolFile = join(smolDir, 'SmolLM2-135M-Instruct.Q4_1.gguf');

describe.skipIf(assets === undefined || !existsSync(tok512))(
  `SentencePiece GGUF (stories260K tok512) vs transformers${assets === undefined ? ` (${skipReason})` : ''}`,
  () => {
    const fx = readFixture<StoriesFixture>('gguf/stories260k.json');
    // The metadata llama.cpp's converter writes for tok512.model, rebuilt here from the .model file.
    const metadata = (): GgufMetadata => {
      const pieces = readSentencePieceModel(tok512);
      return {
        'general.architecture': 'llama',
        'tokenizer.ggml.model': 'llama',
        'tokenizer.ggml.pre': 'default',
        'tokenizer.ggml.tokens': pieces.map((p) => p.piece),
        'tokenizer.ggml.scores': pieces.map((p) => p.score),
        'tokenizer.ggml.token_type': pieces.map((p) => p.type),
        'tokenizer.ggml.bos_token_id': fx.specialIds.bos,
        'tokenizer.ggml.eos_token_id': fx.specialIds.eos,
        'tokenizer.ggml.unknown_token_id': fx.specialIds.unk,
        'tokenizer.ggml.add_space_prefix': true,
      };
    };

    it('rebuilds the metadata the fixture GGUF was written with', () => {
      const m = metadata();
      expect(sha256([m['tokenizer.ggml.tokens'], m['tokenizer.ggml.token_type']])).toBe(fx.metadataSha256);
    });

    it("builds transformers' tokenizer.json (merges derived from the scores)", () => {
      const files = ggufTokenizerFiles(metadata());
      expect(digested(files.tokenizerJson)).toEqual(fx.backend);
      expect(configView(files)).toEqual(fx.config);
      expect(files.generationConfig).toEqual({ bos_token_id: 1, eos_token_id: 2 });
    });

    it('encodes (BOS added) and decodes every text like transformers', () => {
      const tok = tokenizerFromGguf(metadata());
      expect(tok.vocabSize).toBe(fx.len);
      expect(fx.texts.length).toBeGreaterThan(300);
      expect(mismatches(tok, fx)).toEqual([]);
      expect(tok.encode('Once upon a time')[0]).toBe(tok.bosTokenId);
    });
  },
);

describe.skipIf(assets === undefined || !existsSync(smolFile))(
  `SmolLM2-135M-Instruct GGUF vs transformers${assets === undefined ? ` (${skipReason})` : ''}`,
  () => {
    const fx = readFixture<SmolLm2Fixture>('gguf/smollm2.json');
    let loaded: Promise<Tokenizer> | undefined;
    const load = () => (loaded ??= loadTokenizer(smolFile));

    it("builds transformers' tokenizer.json and tokenizer_config fields", async () => {
      const files = ggufTokenizerFiles((await openGguf(smolFile)).metadata, { file: smolFile });
      expect(digested(files.tokenizerJson)).toEqual(fx.backend);
      expect(configView(files)).toEqual(fx.config);
      expect(files.generationConfig).toEqual({ bos_token_id: 1, eos_token_id: 2, pad_token_id: 2 });
    });

    it('encodes and decodes every text like transformers, without a BOS', async () => {
      const tok = await load();
      expect(tok.vocabSize).toBe(fx.len);
      expect(fx.texts.length).toBeGreaterThan(300);
      expect(mismatches(tok, fx)).toEqual([]);
      expect(tok.encode('Once upon a time, there was')).not.toContain(tok.tokenToId('<|im_start|>'));
      expect([tok.bosTokenId, tok.eosTokenIds, tok.padTokenId, tok.unkTokenId]).toEqual([1, [2], 2, 0]);
    });

    it('renders the chat template and encodes chats like apply_chat_template', async () => {
      const tok = await load();
      expect(fx.chats.length).toBeGreaterThanOrEqual(8);
      for (const c of fx.chats) {
        const text = renderChat(tok, c.messages, { addGenerationPrompt: c.addGenerationPrompt });
        expect(sha256Text(text), text).toBe(c.textSha256);
        expect(Array.from(encodeChat(tok, c.messages, { addGenerationPrompt: c.addGenerationPrompt }).inputIds)).toEqual(c.ids);
      }
    });

    it('loads from the folder that holds the GGUF', async () => {
      const tok = await loadTokenizer(smolDir);
      expect(tok.encode(fx.texts[40] ?? '')).toEqual(fx.ids[40]);
      expect(Object.keys(tok.settings.chatTemplates)).toEqual(['default']);
    });
  },
);
