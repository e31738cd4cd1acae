import type { TokenizedExample } from '../transforms/tokenized-example.js';

/** The decoding half of a tokenizer, as the renderer needs it. */
export interface TokenDecoder {
  /** Decodes ids to text; `skipSpecialTokens: false` must keep special tokens visible. */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean }): string;
}

/** Options of {@link renderTrainedTokens}. */
export interface RenderOptions {
  /**
   * ANSI colours (trained text bold green, context dim) instead of `[[…]]` brackets around the
   * trained text. Default: colours when stdout is a TTY and `NO_COLOR` is unset.
   */
  color?: boolean;
}

const TRAINED = '\u001b[1;32m';
const CONTEXT = '\u001b[2m';
const RESET = '\u001b[0m';

/**
 * Renders an encoded example as text with the trained tokens highlighted, special tokens shown.
 * Each run of tokens with the same mask is decoded on its own, so a character split across a
 * mask boundary (rare with byte-level BPE) may show as `�`.
 *
 * @example
 * ```ts
 * console.log(renderTrainedTokens(tokenizer, encodeChat(tokenizer, messages), { color: false }));
 * // <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n[[Hello!<|im_end|>]]\n
 * ```
 */
export function renderTrainedTokens(tokenizer: TokenDecoder, example: TokenizedExample, options: RenderOptions = {}): string {
  const color = options.color ?? defaultColor();
  let out = '';
  let start = 0;
  const n = example.inputIds.length;
  for (let t = 1; t <= n; t++) {
    if (t < n && (example.labelsMask[t] !== 0) === (example.labelsMask[start] !== 0)) continue;
    const text = tokenizer.decode(Array.from(example.inputIds.subarray(start, t)), { skipSpecialTokens: false });
    const trained = example.labelsMask[start] !== 0;
    if (color) out += `${trained ? TRAINED : CONTEXT}${text}${RESET}`;
    else out += trained ? `[[${text}]]` : text;
    start = t;
  }
  return out;
}

function defaultColor(): boolean {
  return typeof process !== 'undefined' && process.stdout?.isTTY === true && process.env['NO_COLOR'] === undefined;
}
