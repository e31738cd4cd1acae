import { describe, expect, it } from 'vitest';
import { promptEncodeOptions } from './run-generation.js';

describe('promptEncodeOptions', () => {
  it('lets an explicit addBos win, else adds no special tokens to chat renders, else follows the tokenizer', () => {
    const chat = { id: '1', prompt: '<|im_start|>user\nhi<|im_end|>\n', addSpecialTokens: false };
    const plain = { id: '2', prompt: 'Once upon a time' };
    expect(promptEncodeOptions(chat, true)).toEqual({ addBos: true });
    expect(promptEncodeOptions(plain, false)).toEqual({ addBos: false });
    expect(promptEncodeOptions(chat, undefined)).toEqual({ addSpecialTokens: false });
    expect(promptEncodeOptions(plain, undefined)).toEqual({});
  });
});
