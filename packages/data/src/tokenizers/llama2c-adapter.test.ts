import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeChat } from '../chat/encode-chat.js';
import { STORIES_CHAT_TEMPLATE } from '../chat/templates.js';
import { loadTokenizer } from './load-tokenizer.js';

const assets = process.env['LORA_ASSETS_DIR'];
const dir = assets === undefined ? undefined : join(assets, 'models', 'stories260K');
if (dir === undefined) console.warn('[llama2c adapter] skipped: LORA_ASSETS_DIR is unset (point it at ../shared to run)');

// Needs LORA_ASSETS_DIR (stories260K's tok512.bin).
describe.skipIf(dir === undefined)('llama2.c tokenizer (stories260K)', () => {
  it('loads tok512.bin and encodes a stories chat with a trained assistant turn', async () => {
    const tok = await loadTokenizer(dir ?? '');
    expect(tok.vocabSize).toBe(512);
    expect(tok.padTokenId).toBe(tok.eosTokenIds[0]);
    expect(tok.tokenToId(tok.idToToken(300) ?? '')).toBe(300);
    const { inputIds, labelsMask } = encodeChat(
      tok,
      [
        { role: 'user', content: 'Tell me a story.' },
        { role: 'assistant', content: 'Once upon a time' },
      ],
      { chatTemplate: STORIES_CHAT_TEMPLATE, addBos: true },
    );
    expect(inputIds[0]).toBe(tok.bosTokenId);
    const trained = Array.from(inputIds).filter((_, i) => labelsMask[i] === 1);
    expect(tok.decode(trained)).toMatch(/Once upon a time\n$/);
  });
});
