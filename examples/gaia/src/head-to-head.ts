/** Counts of a base-vs-adapter comparison on per-example correctness. */
export interface HeadToHeadCounts {
  /** Examples in both runs. */
  examples: number;
  /** Adapter right, base wrong. */
  wins: number;
  /** Base right, adapter wrong. */
  losses: number;
  /** Both right or both wrong. */
  ties: number;
  /** Ties where both were right. */
  bothRight: number;
  /** Ties where both were wrong. */
  bothWrong: number;
}

/** {@link HeadToHeadCounts} overall and per category. */
export interface HeadToHead extends HeadToHeadCounts {
  byCategory: Record<string, HeadToHeadCounts>;
}

const empty = (): HeadToHeadCounts => ({ examples: 0, wins: 0, losses: 0, ties: 0, bothRight: 0, bothWrong: 0 });

/**
 * Head-to-head of an adapter against the base from per-example correctness: a win when the adapter
 * is right and the base wrong, a loss the other way round, a tie otherwise (both right or both
 * wrong, counted apart too). Only ids present in both runs count.
 *
 * @example
 * ```ts
 * headToHead([{ id: '1', category: 'simple', correct: false }], [{ id: '1', category: 'simple', correct: true }]).wins; // 1
 * ```
 */
export function headToHead(
  base: readonly { id: string; category: string; correct: boolean }[],
  adapter: readonly { id: string; category: string; correct: boolean }[],
): HeadToHead {
  const baseById = new Map(base.map((s) => [s.id, s.correct]));
  const total = empty();
  const byCategory: Record<string, HeadToHeadCounts> = {};
  for (const a of adapter) {
    const b = baseById.get(a.id);
    if (b === undefined) continue;
    for (const c of [total, (byCategory[a.category] ??= empty())]) {
      c.examples++;
      if (a.correct && !b) c.wins++;
      else if (b && !a.correct) c.losses++;
      else {
        c.ties++;
        if (a.correct) c.bothRight++;
        else c.bothWrong++;
      }
    }
  }
  return { ...total, byCategory };
}

/** The head-to-head as a markdown section (overall and per category). */
export function headToHeadMarkdown(h: HeadToHead, names: { base: string; adapter: string }): string {
  const row = (label: string, c: HeadToHeadCounts) =>
    `| ${label} | ${c.examples} | ${c.wins} | ${c.ties} (${c.bothRight} both right, ${c.bothWrong} both wrong) | ${c.losses} |`;
  return [
    '',
    `## Head-to-head: ${names.adapter} vs ${names.base}`,
    '',
    `A win: ${names.adapter} right and ${names.base} wrong (exact function + argument match); a loss: the other way round.`,
    '',
    `| | examples | ${names.adapter} wins | ties | ${names.base} wins |`,
    '|---|---:|---:|---|---:|',
    row('all', h),
    ...Object.entries(h.byCategory)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([cat, c]) => row(cat, c)),
    '',
  ].join('\n');
}
