import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { loadTokenizer, type Tokenizer } from '@lora/data';
import { describe, expect, it } from 'vitest';
import { encodePrompt, stopTokenIds } from './tokenizer.js';

const assets = process.env.LORA_ASSETS_DIR;
const stories = assets === undefined ? '' : join(assets, 'models', 'stories260K');
const smol = assets === undefined ? '' : join(assets, 'models', 'SmolLM2-135M-Instruct');

/** A tokenizer stub: encodes each character to its code, with the given BOS/EOS. */
function stub(bosTokenId: number | undefined, eosTokenIds: number[]): Tokenizer {
  return { bosTokenId, eosTokenIds, encode: (text: string) => Array.from(text, (c) => c.charCodeAt(0)) } as unknown as Tokenizer;
}

describe('encodePrompt', () => {
  it("keeps the tokenizer's own encoding and starts an empty prompt from BOS", async () => {
    expect(await encodePrompt(stub(1, [2]), 'ab')).toEqual([97, 98]);
    expect(await encodePrompt(stub(1, [2]), '')).toEqual([1]);
    const error = await encodePrompt(stub(undefined, [2]), '').catch((e: unknown) => e);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect(String(error)).toMatch(/--prompt/);
  });

  it.skipIf(!existsSync(stories))('keeps the BOS of stories260K (llama2.c tokenizer)', async () => {
    const tok = await loadTokenizer(stories);
    const ids = await encodePrompt(tok, 'Once upon a time');
    expect(ids[0]).toBe(1);
    expect(ids).toEqual(tok.encode('Once upon a time', { addBos: true }));
  });

  it.skipIf(!existsSync(smol))('prepends nothing for SmolLM2, as transformers (no <|im_start|>)', async () => {
    const tok = await loadTokenizer(smol);
    // transformers 5.23: AutoTokenizer.from_pretrained(dir, gguf_file=...)("Once upon a time, there was")
    expect(await encodePrompt(tok, 'Once upon a time, there was')).toEqual([6403, 1980, 253, 655, 28, 665, 436]);
    expect(await encodePrompt(tok, '')).toEqual([tok.bosTokenId]);
  });
});

describe('stopTokenIds', () => {
  it("joins the model's stop ids and the tokenizer's EOS ids without repeats", () => {
    expect(stopTokenIds(stub(1, [2, 7]), [2, 5])).toEqual([2, 5, 7]);
    expect(stopTokenIds(stub(1, [2]), [])).toEqual([2]);
  });
});
