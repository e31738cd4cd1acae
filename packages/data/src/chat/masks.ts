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

/** Token position of a character offset: `k` tokens of `ids` precede it; `exact` when no token straddles it. */
export interface TokenPosition {
  readonly k: number;
  readonly exact: boolean;
}

/** Maps a character offset of the encoded text to a {@link TokenPosition}. */
export type Locate = (c: number) => TokenPosition;

/**
 * The reference locator: encodes `text.slice(0, c)` and counts the tokens it shares with `ids`.
 * Exact for any tokenizer, but each call costs an encode of the whole prefix (quadratic over a
 * conversation).
 * @internal
 */
export function prefixLocator(tokenizer: Tokenizer, text: string, ids: readonly number[]): Locate {
  return (c) => {
    const prefix = tokenizer.encode(text.slice(0, c), { addSpecialTokens: false });
    let k = 0;
    while (k < prefix.length && k < ids.length && prefix[k] === ids[k]) k++;
    return { k, exact: k === prefix.length };
  };
}

/**
 * A locator that encodes only the piece of text between two special tokens that holds `c`:
 * tokenizers split special tokens out before anything else, so the tokens of a prefix are those of
 * the whole pieces before it plus those of the partial piece. Used only when that split is checked
 * to reproduce `ids` exactly over the whole text (one encode per piece); `undefined` otherwise (no
 * special token in the text, or a tokenizer whose pieces interact, e.g. a Metaspace `first`
 * prefix), where {@link prefixLocator} is the answer.
 * @internal
 */
export function pieceLocator(tokenizer: Tokenizer, text: string, ids: readonly number[]): Locate | undefined {
  const specials = [...new Set(tokenizer.specialTokens.map((t) => t.content).filter((t) => t.length > 0))].sort(
    (a, b) => b.length - a.length,
  );
  if (specials.length === 0) return undefined;
  const pattern = new RegExp(specials.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|'), 'g');
  const starts: number[] = [];
  const special: boolean[] = [];
  const firstToken: number[] = [];
  let at = 0;
  let count = 0;
  const add = (start: number, end: number, isSpecial: boolean): boolean => {
    if (end <= start) return true;
    const encoded = tokenizer.encode(text.slice(start, end), { addSpecialTokens: false });
    for (let i = 0; i < encoded.length; i++) if (encoded[i] !== ids[count + i]) return false;
    starts.push(start);
    special.push(isSpecial);
    firstToken.push(count);
    count += encoded.length;
    return true;
  };
  for (const match of text.matchAll(pattern)) {
    if (!add(at, match.index, false) || !add(match.index, match.index + match[0].length, true)) return undefined;
    at = match.index + match[0].length;
  }
  if (!add(at, text.length, false) || count !== ids.length || starts.length < 2) return undefined;
  return (c) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((starts[mid] as number) <= c) lo = mid;
      else hi = mid - 1;
    }
    if (c === starts[lo]) return { k: firstToken[lo] as number, exact: true };
    // Inside a special token the prefix ends in plain text ("…?<|im"), which can merge with the
    // plain piece before it: encode from that piece's start. Plain pieces start after a special token.
    const from = special[lo] && lo > 0 && !special[lo - 1] ? lo - 1 : lo;
    const local = tokenizer.encode(text.slice(starts[from], c), { addSpecialTokens: false });
    const base = firstToken[from] as number;
    let j = 0;
    while (j < local.length && base + j < ids.length && local[j] === ids[base + j]) j++;
    return { k: base + j, exact: j === local.length };
  };
}

/**
 * 0/1 mask over `ids` (the encoding of `text` without special tokens): 1 for every token that
 * overlaps one of the character spans (transformers' rule for `{% generation %}` masks). Token
 * boundaries are found by re-encoding text prefixes and comparing with `ids`, so no offset mapping
 * is needed; a token straddling a span boundary counts as inside. Where the text holds special
 * tokens, only the piece between two of them is re-encoded (`pieceLocator`), which keeps a
 * long conversation linear instead of quadratic.
 */
export function spansToTokenMask(
  tokenizer: Tokenizer,
  text: string,
  ids: readonly number[],
  spans: readonly (readonly [number, number])[],
): Uint8Array {
  const mask = new Uint8Array(ids.length);
  const cache = new Map<number, TokenPosition>();
  let inner: Locate | undefined;
  const locate = (c: number): TokenPosition => {
    if (c <= 0) return { k: 0, exact: true };
    if (c >= text.length) return { k: ids.length, exact: true };
    let hit = cache.get(c);
    if (hit === undefined) {
      inner ??= pieceLocator(tokenizer, text, ids) ?? prefixLocator(tokenizer, text, ids);
      hit = inner(c);
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
