import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@lora/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { Llama2cTokenizer } from './llama2c.js';

// Real tok512.bin from ../shared; fixtures from tools/parity/llama2c/make_fixtures.py (run.c + sentencepiece).
const assets = process.env.LORA_ASSETS_DIR;
const dir = assets === undefined ? '' : join(assets, 'models', 'stories260K');
const skipReason = 'skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)';
if (assets === undefined) console.warn(`[llama2c tokenizer] ${skipReason}`);
const fixtures = new URL('../../../../fixtures/llama2c/', import.meta.url);

interface EncodeEntry {
  text: string;
  runc: number[];
  sentencepiece: number[];
  agree: boolean;
}
interface GenCase {
  name: string;
  prompt: string;
  stdout: string;
  promptIds: number[];
  generatedIds: number[];
}
const encodeFixture = JSON.parse(readFileSync(new URL('encode.json', fixtures), 'utf8')) as { entries: EncodeEntry[] };
const genFixture = JSON.parse(readFileSync(new URL('stories260K-greedy.json', fixtures), 'utf8')) as { cases: GenCase[] };

describe.skipIf(assets === undefined)(`Llama2cTokenizer on tok512.bin${assets === undefined ? ` (${skipReason})` : ''}`, () => {
  let tok: Llama2cTokenizer;
  beforeAll(async () => {
    tok = await Llama2cTokenizer.fromFile(join(dir, 'tok512.bin'), { vocabSize: 512 });
  });

  it('reads the vocabulary', () => {
    expect(tok.vocabSize).toBe(512);
    expect(tok.maxTokenLength).toBe(7);
    expect([tok.bosTokenId, ...tok.eosTokenIds, tok.unkTokenId]).toEqual([1, 2, 0]);
    expect(new TextDecoder().decode(tok.piece(3 + 0x41))).toBe('<0x41>');
  });

  it('encodes every corpus entry exactly like run.c', () => {
    for (const e of encodeFixture.entries) {
      expect(tok.encode(e.text, { addBos: false }), JSON.stringify(e.text)).toEqual(e.runc);
    }
  });

  it('agrees with sentencepiece, which also collapses and trims spaces (remove_extra_whitespaces)', () => {
    expect(encodeFixture.entries.filter((e) => !e.agree).length).toBeGreaterThan(0);
    for (const e of encodeFixture.entries) {
      const normalized = e.agree ? e.text : e.text.replace(/ +/g, ' ').trim();
      expect(tok.encode(normalized, { addBos: false }), JSON.stringify(e.text)).toEqual(e.sentencepiece);
    }
  });

  it('adds BOS by default and EOS on request', () => {
    expect(tok.encode('')).toEqual([1]);
    expect(tok.encode('Once upon a time')).toEqual(genFixture.cases[1]?.promptIds);
    expect(tok.encode('Hello', { addEos: true }).at(-1)).toBe(2);
  });

  it('encodes the prompts of the run.c generation references', () => {
    for (const c of genFixture.cases) expect(tok.encode(c.prompt), c.name).toEqual(c.promptIds);
  });

  it('decodes the run.c reference ids to run.c stdout (leading space stripped after BOS)', () => {
    for (const c of genFixture.cases) {
      expect(tok.decode([...c.promptIds, ...c.generatedIds]) + '\n', c.name).toBe(c.stdout);
    }
  });

  it('round-trips text through encode and decode, byte fallback included', () => {
    for (const e of encodeFixture.entries) {
      // decode strips the dummy-prefix space only right after BOS
      expect(tok.decode(tok.encode(e.text)), JSON.stringify(e.text)).toBe(e.text);
    }
    const emoji = tok.encode('🙂', { addBos: false });
    expect(emoji.slice(1)).toEqual([...new TextEncoder().encode('🙂')].map((b) => b + 3));
  });

  it('keeps special tokens only when asked', () => {
    const ids = tok.encode('Hi', { addEos: true });
    expect(tok.decode(ids)).toBe('Hi');
    expect(tok.decode(ids, { skipSpecialTokens: false })).toBe('\n<s>\nHi\n</s>\n');
    expect(() => tok.decode([512])).toThrow(InvalidArgumentError);
  });

  it('rejects truncated or padded tokenizer files with the token named', () => {
    const bytes = readFileSync(join(dir, 'tok512.bin'));
    expect(() => Llama2cTokenizer.fromBytes(bytes.subarray(0, bytes.length - 3), 'cut.bin', { vocabSize: 512 })).toThrow(
      /cut\.bin \(token 511\)/,
    );
    expect(() => Llama2cTokenizer.fromBytes(bytes, 'tok.bin', { vocabSize: 511 })).toThrow(FileFormatError);
    expect(() => Llama2cTokenizer.fromBytes(bytes.subarray(0, 2), 'tiny.bin')).toThrow(/max_token_length/);
  });
});
