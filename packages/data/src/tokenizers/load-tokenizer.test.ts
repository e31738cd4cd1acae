import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { readFixture, referenceTokenizerDir, REFERENCE_TOKENIZERS, type ReferenceTokenizerName } from '../test/reference-tokenizers.js';
import { loadTokenizer } from './load-tokenizer.js';

interface TokenizerFixture {
  special: { bos: number | null; eos: number | null; pad: number | null; unk: number | null; len: number };
  specialCount: number;
  decodeCount: number;
  texts: string[];
  ids: number[][];
  idsSpecial: number[][];
  decoded: [string[], string[]];
}

// Fixtures: tools/parity/data/make_tokenizer_fixtures.py (Python tokenizers 0.23 + transformers 5.23).
describe.each(Object.keys(REFERENCE_TOKENIZERS) as ReferenceTokenizerName[])('%s tokenizer.json', (name) => {
  const fx = readFixture<TokenizerFixture>(`tokenizers/${name}.json`);
  let cached: ReturnType<typeof loadTokenizer> | undefined;
  const load = () => (cached ??= loadTokenizer(referenceTokenizerDir(name)));

  it('encodes the corpus to the ids of Python tokenizers (add_special_tokens=False)', async () => {
    const tok = await load();
    const got = tok.encodeBatch(fx.texts, { addSpecialTokens: false });
    const bad = fx.texts.filter((_, i) => JSON.stringify(got[i]) !== JSON.stringify(fx.ids[i]));
    expect(bad).toEqual([]);
    expect(fx.texts.length).toBeGreaterThan(190);
  });

  it('adds special tokens like AutoTokenizer and resolves bos/eos/pad/unk', async () => {
    const tok = await load();
    for (let i = 0; i < fx.specialCount; i++) expect(tok.encode(fx.texts[i] ?? '')).toEqual(fx.idsSpecial[i]);
    expect(tok.vocabSize).toBe(fx.special.len);
    expect(tok.bosTokenId).toBe(fx.special.bos ?? undefined);
    expect(tok.eosTokenIds[0]).toBe(fx.special.eos);
    expect(tok.padTokenId).toBe(fx.special.pad ?? fx.special.eos);
    expect(tok.unkTokenId).toBe(fx.special.unk ?? undefined);
  });

  it('decodes like AutoTokenizer.decode, with and without special tokens', async () => {
    const tok = await load();
    for (let i = 0; i < fx.decodeCount; i++) {
      const ids = fx.idsSpecial[i] ?? tok.encode(fx.texts[i] ?? '');
      expect(tok.decode(ids, { skipSpecialTokens: false })).toBe(fx.decoded[0][i]);
      expect(tok.decode(ids)).toBe(fx.decoded[1][i]);
    }
  });
});

describe('loadTokenizer', () => {
  it('exposes vocabulary lookups, special tokens and addBos', async () => {
    const tok = await loadTokenizer(referenceTokenizerDir('qwen3'));
    expect(tok.tokenToId('<|im_end|>')).toBe(tok.eosTokenIds[0]);
    expect(tok.idToToken(tok.eosTokenIds[0] ?? -1)).toBe('<|im_end|>');
    expect(tok.specialTokens.map((t) => t.content)).toContain('<|im_start|>');
    expect(tok.bosTokenId).toBeUndefined();
    expect(Object.keys(tok.settings.chatTemplates)).toEqual(['default']);
    const gemma = await loadTokenizer(referenceTokenizerDir('llama3'));
    // llama3 (base) adds no BOS by default; addBos forces it once.
    expect(gemma.encode('hi')[0]).not.toBe(gemma.bosTokenId);
    expect(gemma.encode('hi', { addBos: true })[0]).toBe(gemma.bosTokenId);
    expect(gemma.decodeBatch([gemma.encode('a b'), []])).toEqual(['a b', '']);
  });

  it('reads generation_config.json eos ids and chat_template.jinja', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-tok-'));
    const src = referenceTokenizerDir('llama3');
    copyFileSync(join(src, 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: { content: '<|end_of_text|>', __type: 'AddedToken' } }));
    writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [128001, 128009] }));
    writeFileSync(join(dir, 'chat_template.jinja'), '{{ messages[0].content }}');
    const tok = await loadTokenizer(dir);
    expect(tok.eosTokenIds).toEqual([128001, 128009]);
    expect(tok.padTokenId).toBe(128001);
    expect(tok.settings.chatTemplates['default']).toBe('{{ messages[0].content }}');
  });

  it('names the file and field of a bad config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-tok-'));
    copyFileSync(join(referenceTokenizerDir('llama3'), 'tokenizer.json'), join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<not-a-token>' }));
    const error = await loadTokenizer(dir).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect(String((error as Error).message)).toMatch(/tokenizer_config\.json \(eos_token\)/);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ chat_template: 3 }));
    await expect(loadTokenizer(dir)).rejects.toThrow(/chat_template/);
  });

  it('rejects a folder with several GGUF files and a malformed .gguf', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-tok-'));
    writeFileSync(join(dir, 'a.gguf'), 'not a gguf');
    writeFileSync(join(dir, 'b.gguf'), 'not a gguf');
    await expect(loadTokenizer(dir)).rejects.toThrow(/several GGUF files \(a\.gguf, b\.gguf\)/);
    const error = await loadTokenizer(join(dir, 'a.gguf')).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect(String(error)).toMatch(/a\.gguf/);
  });

  it('reports a folder without a tokenizer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-tok-'));
    const error = await loadTokenizer(dir).catch((e: unknown) => e);
    expect(AssetNotFoundError.isInstance(error)).toBe(true);
  });
});
