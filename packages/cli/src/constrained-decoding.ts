import type { Tokenizer } from '@lora/data';
import type { AcceptorState, JsonSchemaAcceptor } from '@lora/judge/internal';

/** The text each vocabulary id adds to a reply, for constrained decoding. */
export interface VocabularyTexts {
  /** Text of each id as it reads after other text; `undefined` for ids never allowed (special, empty, partial UTF-8). */
  readonly texts: readonly (string | undefined)[];
  /** Longest text, in UTF-16 code units. */
  readonly maxChars: number;
}

/**
 * The text each id of `tokenizer` adds when it follows other text: `decode([anchor, id])` minus
 * `decode([anchor])`, so SentencePiece's word-initial `▁` reads as the space it is mid-text.
 * Special tokens, ids that decode to nothing, and ids that decode to U+FFFD (a lone byte of a
 * multi-byte character) get `undefined`: constrained decoding never picks them.
 */
export function vocabularyTexts(tokenizer: Tokenizer): VocabularyTexts {
  const anchorIds = tokenizer.encode('a', { addSpecialTokens: false });
  const anchor = anchorIds[anchorIds.length - 1];
  const special = new Set(tokenizer.specialTokens.map((t) => t.id));
  const texts: (string | undefined)[] = new Array(tokenizer.vocabSize).fill(undefined);
  let maxChars = 0;
  const ids: number[] = [];
  for (let id = 0; id < tokenizer.vocabSize; id++) if (!special.has(id)) ids.push(id);
  const decoded = tokenizer.decodeBatch(ids.map((id) => (anchor === undefined ? [id] : [anchor, id])));
  const prefix = anchor === undefined ? '' : tokenizer.decode([anchor]);
  ids.forEach((id, i) => {
    const whole = decoded[i] as string;
    if (!whole.startsWith(prefix)) return;
    const text = whole.slice(prefix.length);
    if (text === '' || text.includes('\uFFFD')) return;
    texts[id] = text;
    maxChars = Math.max(maxChars, text.length);
  });
  return { texts, maxChars };
}

/** A logits processor that keeps a reply inside a {@link JsonSchemaAcceptor}'s language. */
export interface JsonLogitsProcessor {
  /** For `generate`'s `processLogits`: masks the ids the acceptor rejects from the current state. */
  processLogits: (logits: Float32Array, tokens: readonly number[], row: number) => void;
  /** For `generate`'s `stop`: whether the reply so far is a complete value. */
  isComplete: (tokens: readonly number[]) => boolean;
  /** Steps and milliseconds spent masking so far; vocabulary walks (allowed sets computed) and cache hits among them. */
  readonly stats: { steps: number; ms: number; walks: number; cacheHits: number };
}

/** Options of {@link jsonLogitsProcessor}. */
export interface JsonLogitsProcessorOptions {
  /** Allowed ids per acceptor state, shared by the replies of one acceptor (and end ids). Default: a new one. */
  cache?: Map<string, Uint8Array>;
  /**
   * The reply's token budget (`maxNewTokens` of generate): a token is allowed only if the JSON
   * can still be completed in the tokens left after it, at one character per token (the
   * acceptor's `minRemaining`), so the reply ends as complete JSON; when no token can, only tokens
   * that bring completion closer are. Default: no budget.
   */
  maxNewTokens?: number;
}

/**
 * Constrained decoding for one reply (one row): before each token, every id whose text the
 * acceptor rejects from the current state gets `-Infinity`; the end ids are allowed only once the
 * JSON is complete, and then they are the only ones allowed (so the reply ends there). The state
 * follows the chosen tokens (`tokens`); the allowed set of each state is cached by the acceptor's
 * key (string lengths far from the cap share one entry), so a long string costs one vocabulary
 * walk. With `maxNewTokens`, near the end of the budget only tokens after which the JSON can still
 * be completed in the tokens left are allowed (a long string gets closed in time), so the reply
 * ends as complete JSON. Create one per generation.
 *
 * @throws Error when no vocabulary id can continue the JSON (a tokenizer without single-character tokens).
 */
export function jsonLogitsProcessor(
  acceptor: JsonSchemaAcceptor,
  vocabulary: VocabularyTexts,
  endIds: readonly number[],
  options: JsonLogitsProcessorOptions = {},
): JsonLogitsProcessor {
  const cache = options.cache ?? new Map<string, Uint8Array>();
  const budget = options.maxNewTokens ?? Number.POSITIVE_INFINITY;
  let state: AcceptorState = acceptor.initial;
  let consumed = 0;
  const stats = { steps: 0, ms: 0, walks: 0, cacheHits: 0 };
  const advance = (tokens: readonly number[]): AcceptorState => {
    for (; consumed < tokens.length; consumed++) {
      const id = tokens[consumed] as number;
      const text = vocabulary.texts[id];
      const next = text === undefined ? undefined : acceptor.feedText(state, text);
      if (next === undefined) throw new Error(`constrained decoding: token ${id} (${JSON.stringify(text)}) does not continue the JSON.`);
      state = next;
    }
    return state;
  };
  /**
   * The allowed ids from `from` with `left` tokens left after this one (`Infinity`: not binding):
   * those after which the JSON can still be completed at one character per token; when none can
   * (a budget shorter than that), those that bring completion closer; else every continuation.
   */
  const allowedFrom = (from: AcceptorState, left: number): Uint8Array => {
    const key = `${Number.isFinite(left) ? `left ${left}: ` : ''}${acceptor.key(from, vocabulary.maxChars)}`;
    const cached = cache.get(key);
    if (cached !== undefined) {
      stats.cacheHits++;
      return cached;
    }
    stats.walks++;
    const accepted = new Uint8Array(vocabulary.texts.length);
    const feasible = new Uint8Array(vocabulary.texts.length);
    const closer = new Uint8Array(vocabulary.texts.length);
    const counts = { accepted: 0, feasible: 0, closer: 0 };
    const remaining = acceptor.minRemaining(from);
    const ends = new Set(endIds);
    vocabulary.texts.forEach((text, id) => {
      if (text === undefined || ends.has(id)) return;
      const next = acceptor.feedText(from, text);
      if (next === undefined) return;
      accepted[id] = 1;
      counts.accepted++;
      if (!Number.isFinite(left)) return;
      const needed = acceptor.minRemaining(next);
      if (needed <= left) {
        feasible[id] = 1;
        counts.feasible++;
      }
      if (needed < remaining) {
        closer[id] = 1;
        counts.closer++;
      }
    });
    if (counts.accepted === 0) throw new Error(`constrained decoding: no token of the vocabulary continues the JSON at state ${key}.`);
    const allowed = counts.feasible > 0 ? feasible : counts.closer > 0 ? closer : accepted;
    if (cache.size >= 1024) cache.clear();
    cache.set(key, allowed);
    return allowed;
  };
  return {
    stats,
    isComplete: (tokens) => acceptor.isComplete(advance(tokens)),
    processLogits(logits, tokens) {
      const started = performance.now();
      const current = advance(tokens);
      if (acceptor.isComplete(current)) {
        const keep = endIds.filter((id) => id < logits.length);
        const values = keep.map((id) => logits[id] as number);
        logits.fill(-Infinity);
        keep.forEach((id, i) => (logits[id] = Number.isFinite(values[i]) ? (values[i] as number) : 0));
      } else {
        // Tokens left after this one; the budget binds only when it is below every state's completion length.
        const left = budget - tokens.length - 1;
        const allowed = allowedFrom(current, left < acceptor.maxMinRemaining ? left : Number.POSITIVE_INFINITY);
        for (let id = 0; id < logits.length; id++) if (allowed[id] !== 1) logits[id] = -Infinity;
      }
      stats.steps++;
      stats.ms += performance.now() - started;
    },
  };
}
