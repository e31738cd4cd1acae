import type { GgufValue } from './gguf-reader.js';

/**
 * Token texts that end an assistant turn in common chat templates (ChatML, Llama 3, Gemma, Phi-3).
 * A model that emits one has finished its reply, so generation stops on them by default.
 */
export const END_OF_TURN_TOKENS: readonly string[] = Object.freeze(['<|im_end|>', '<|eot_id|>', '<|eom_id|>', '<end_of_turn>', '<|end|>']);

/** llama.cpp token types of tokens that may end a turn: CONTROL (3) and USER_DEFINED (4). */
const TURN_TOKEN_TYPES = new Set([3, 4]);

function idOf(value: GgufValue | undefined, count: number): number | undefined {
  const id = typeof value === 'bigint' ? Number(value) : value;
  return typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < count ? id : undefined;
}

/**
 * The ids generation should stop on for the model a GGUF file describes: `tokenizer.ggml.eos_token_id`,
 * then the end-of-turn ids — `tokenizer.ggml.eot_token_id` and `eom_token_id` when set, and tokens
 * named in {@link END_OF_TURN_TOKENS} that the file types CONTROL or USER_DEFINED (any type when
 * the file has no `tokenizer.ggml.token_type`) — without repeats. transformers stops on the EOS id
 * alone; the end-of-turn ids make a chat model stop at the end of its reply as llama.cpp does.
 * Malformed entries, and ids outside the token list when there is one, are ignored (the tokenizer
 * reader reports them).
 *
 * @param metadata - the metadata record of a GGUF file (`openGguf(path).metadata`).
 * @returns token ids, EOS first; empty when the file names none.
 *
 * @example
 * ```ts
 * ggufEndOfGenerationTokenIds((await openGguf('SmolLM2-135M-Instruct.Q4_1.gguf')).metadata); // [2] (<|im_end|>)
 * ```
 */
export function ggufEndOfGenerationTokenIds(metadata: Readonly<Record<string, GgufValue>>): number[] {
  const rawTokens = metadata['tokenizer.ggml.tokens'];
  const tokens = Array.isArray(rawTokens) ? rawTokens : [];
  // Without a token list the ids cannot be checked; take them as they are.
  const count = Array.isArray(rawTokens) ? rawTokens.length : Number.MAX_SAFE_INTEGER;
  const rawTypes = metadata['tokenizer.ggml.token_type'];
  const types = Array.isArray(rawTypes) ? rawTypes : undefined;
  const ids: number[] = [];
  const push = (id: number | undefined) => {
    if (id !== undefined && !ids.includes(id)) ids.push(id);
  };
  for (const key of ['eos_token_id', 'eot_token_id', 'eom_token_id']) push(idOf(metadata[`tokenizer.ggml.${key}`], count));
  const wanted = new Set(END_OF_TURN_TOKENS);
  tokens.forEach((token, i) => {
    if (typeof token !== 'string' || !wanted.has(token)) return;
    const type = types?.[i];
    if (types === undefined || (typeof type === 'number' && TURN_TOKEN_TYPES.has(type))) push(i);
  });
  return ids;
}
