import { describe, expect, it } from 'vitest';
import { END_OF_TURN_TOKENS, ggufEndOfGenerationTokenIds } from './gguf-end-of-generation.js';

describe('ggufEndOfGenerationTokenIds', () => {
  const tokens = ['<unk>', '<s>', '</s>', '<|im_end|>', '<|eot_id|>', '<end_of_turn>', 'hello', '<|end|>'];

  it('lists EOS, then eot/eom keys, then control or user-defined end-of-turn tokens', () => {
    expect(
      ggufEndOfGenerationTokenIds({
        'tokenizer.ggml.tokens': tokens,
        'tokenizer.ggml.token_type': [2, 3, 3, 3, 1, 4, 1, 3],
        'tokenizer.ggml.eos_token_id': 2,
        'tokenizer.ggml.eom_token_id': 6n,
      }),
    ).toEqual([2, 6, 3, 5, 7]);
  });

  it('takes every named token when the file has no token types, and skips repeats and bad ids', () => {
    expect(ggufEndOfGenerationTokenIds({ 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.eos_token_id': 3 })).toEqual([3, 4, 5, 7]);
    expect(
      ggufEndOfGenerationTokenIds({ 'tokenizer.ggml.tokens': tokens, 'tokenizer.ggml.eos_token_id': 99, 'tokenizer.ggml.token_type': [] }),
    ).toEqual([]);
    expect(ggufEndOfGenerationTokenIds({})).toEqual([]);
    expect(ggufEndOfGenerationTokenIds({ 'tokenizer.ggml.eos_token_id': 2 })).toEqual([2]);
    expect(END_OF_TURN_TOKENS).toContain('<|im_end|>');
  });
});
