/**
 * BPE merges implied by a SentencePiece vocabulary that a GGUF stores without merges, derived the
 * way transformers' `generate_merges` does: every split of every token into two vocabulary tokens
 * is a merge ranked by the token's score (highest first; ties by the code-point lengths of the
 * left then right part, longest first, then by discovery order), and the splits of one token are
 * discovered in (left id, right id) order. Lengths and splits count code points, as Python does.
 *
 * @param tokens - the vocabulary in id order (`tokenizer.ggml.tokens`).
 * @param scores - one score per token (`tokenizer.ggml.scores`).
 * @returns merges as `[left, right]` pairs, best first.
 * @internal
 */
export function mergesFromScores(tokens: readonly string[], scores: readonly number[]): [string, string][] {
  // Python dicts: the last id of a repeated token wins the value, the first occurrence keeps the slot.
  const idOf = new Map<string, number>();
  tokens.forEach((t, i) => idOf.set(t, i));
  const scoreOf = new Map<string, number>();
  tokens.forEach((t, i) => scoreOf.set(t, scores[i] ?? 0));

  const found: { left: string; right: string; score: number; leftLength: number; rightLength: number }[] = [];
  for (const [token, score] of scoreOf) {
    const chars = Array.from(token);
    const local: { left: string; right: string; leftId: number; rightId: number; leftLength: number }[] = [];
    for (let k = 1; k < chars.length; k++) {
      const left = chars.slice(0, k).join('');
      const right = chars.slice(k).join('');
      const leftId = idOf.get(left);
      const rightId = idOf.get(right);
      if (leftId !== undefined && rightId !== undefined) local.push({ left, right, leftId, rightId, leftLength: k });
    }
    local.sort((a, b) => a.leftId - b.leftId || a.rightId - b.rightId);
    for (const m of local) {
      found.push({ left: m.left, right: m.right, score, leftLength: m.leftLength, rightLength: chars.length - m.leftLength });
    }
  }
  // Array.prototype.sort is stable, like Python's sorted(reverse=True).
  found.sort((a, b) => b.score - a.score || b.leftLength - a.leftLength || b.rightLength - a.rightLength);
  return found.map((m) => [m.left, m.right]);
}
