import { describe, expect, it } from 'vitest';
import { loadTokenizer } from '../tokenizers/load-tokenizer.js';
import { readFixture, referenceTokenizerDir, type ReferenceTokenizerName } from '../test/reference-tokenizers.js';
import { pieceLocator, prefixLocator } from './masks.js';

interface ChatFixture {
  tokenizer: ReferenceTokenizerName;
  cases: { rendered?: string }[];
}

// The rendered conversations of the chat fixtures (transformers' apply_chat_template output,
// tools/parity/data/make_chat_fixtures.py), with their real tokenizers.
describe.each(['gemma3', 'qwen3', 'llama3_2', 'chatml-generation'])('pieceLocator on %s', (name) => {
  const fx = readFixture<ChatFixture>(`chat/${name}.json`);
  const texts = [...new Set(fx.cases.flatMap((c) => (c.rendered === undefined ? [] : [c.rendered])))];

  it('finds the same token position as encoding the whole prefix, at every character', async () => {
    const tok = await loadTokenizer(referenceTokenizerDir(fx.tokenizer));
    let used = 0;
    for (const text of texts) {
      const ids = tok.encode(text, { addSpecialTokens: false });
      const fast = pieceLocator(tok, text, ids);
      if (fast === undefined) continue;
      used++;
      const slow = prefixLocator(tok, text, ids);
      for (let c = 1; c < text.length; c++) expect(fast(c), `${JSON.stringify(text.slice(Math.max(0, c - 20), c))}|`).toEqual(slow(c));
    }
    // Every one of these templates wraps turns in special tokens, so the fast path is taken.
    expect(used).toBe(texts.length);
  });
});

describe('pieceLocator', () => {
  it('declines a text without special tokens and a split that does not reproduce the ids', async () => {
    const tok = await loadTokenizer(referenceTokenizerDir('qwen3'));
    const plain = 'no special tokens here at all';
    expect(pieceLocator(tok, plain, tok.encode(plain, { addSpecialTokens: false }))).toBeUndefined();
    const text = '<|im_start|>user\nhi<|im_end|>\n';
    const ids = tok.encode(text, { addSpecialTokens: false });
    expect(pieceLocator(tok, text, ids)).toBeDefined();
    expect(pieceLocator(tok, text, [...ids.slice(0, -1), (ids.at(-1) as number) + 1])).toBeUndefined();
  });
});
