import type { Tokenizer } from '../tokenizers/tokenizer.js';
import type { ChatMessage } from './messages.js';

/** Renders `messages` (with or without the generation prompt) to text. */
export type RenderFn = (messages: readonly ChatMessage[], addGenerationPrompt: boolean) => string;

function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * Character spans `[start, end)` of the given assistant messages inside `render(messages, false)`,
 * found by rendering incremental prefixes, so it works for any template:
 * - start: end of `render(messages[:i], true)` (the prompt with its generation prompt) when that is
 *   a prefix of the full text, else where the two first differ (e.g. Qwen3 with
 *   `enable_thinking=false`, whose generation prompt adds an empty think block);
 * - end: end of `render(messages[:i+1], false)` when that is a prefix of the full text; else (a
 *   template that renders the last turn differently, e.g. Qwen3's think block) the longest piece of
 *   the full text after the first difference that ends that rendering.
 * The spans include the template's end-of-turn text (e.g. `<|im_end|>\n`), which the model must learn.
 *
 * @param indices - indices of the assistant messages wanted.
 */
export function assistantSpansByPrefix(render: RenderFn, messages: readonly ChatMessage[], indices: readonly number[]): [number, number][] {
  const full = render(messages, false);
  const spans: [number, number][] = [];
  for (const i of indices) {
    let start = 0;
    try {
      const prompt = render(messages.slice(0, i), true);
      start = full.startsWith(prompt) ? prompt.length : commonPrefixLength(prompt, full);
    } catch {
      start = 0; // a template that cannot render an empty or partial conversation
    }
    const upTo = render(messages.slice(0, i + 1), false);
    let end: number;
    if (full.startsWith(upTo)) end = upTo.length;
    else {
      const at = commonPrefixLength(upTo, full);
      const tail = upTo.slice(at);
      let j = Math.min(tail.length, full.length - at);
      while (j > 0 && !tail.endsWith(full.slice(at, at + j))) j--;
      end = at + j;
    }
    spans.push([start, Math.max(start, end)]);
  }
  return spans;
}

/**
 * 0/1 mask over `ids` (the encoding of `text` without special tokens): 1 for every token that
 * overlaps one of the character spans (transformers' rule for `{% generation %}` masks). Token
 * boundaries are found by re-encoding text prefixes and comparing with `ids`, so no offset mapping
 * is needed; a token straddling a span boundary counts as inside.
 */
export function spansToTokenMask(
  tokenizer: Tokenizer,
  text: string,
  ids: readonly number[],
  spans: readonly (readonly [number, number])[],
): Uint8Array {
  const mask = new Uint8Array(ids.length);
  const cache = new Map<number, { k: number; exact: boolean }>();
  const locate = (c: number): { k: number; exact: boolean } => {
    if (c <= 0) return { k: 0, exact: true };
    if (c >= text.length) return { k: ids.length, exact: true };
    let hit = cache.get(c);
    if (hit === undefined) {
      const prefix = tokenizer.encode(text.slice(0, c), { addSpecialTokens: false });
      let k = 0;
      while (k < prefix.length && k < ids.length && prefix[k] === ids[k]) k++;
      hit = { k, exact: k === prefix.length };
      cache.set(c, hit);
    }
    return hit;
  };
  for (const [s, e] of spans) {
    if (e <= s) continue;
    const first = locate(s).k; // a straddling token k overlaps the span
    const last = locate(e);
    const stop = last.exact ? last.k : last.k + 1;
    mask.fill(1, first, Math.min(stop, ids.length));
  }
  return mask;
}
