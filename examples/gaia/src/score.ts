import { parseToolCalls, type ToolCallFormat, type ToolCallValue } from './tool-calls.js';
import type { GaiaTrace, GoldCall } from './trace.js';

/** Result of checking one predicted call against one gold call. */
export interface CallCheck {
  /** The call matches: same function, every argument acceptable, none missing, none extra. */
  readonly valid: boolean;
  /** What did not match, e.g. "`base`: 12 is not one of [10]". */
  readonly errors: string[];
}

/**
 * Checks a predicted call against a gold call with BFCL's AST rules: the function name must be
 * equal; every predicted argument must be a gold argument; a gold argument may be left out only
 * when its acceptable values include `""`; a value must equal one acceptable value, where
 * strings are compared after BFCL's standardisation (spaces and `,./-_*^` removed, lower case,
 * `'` → `"`), numbers by value (5 equals 5.0), lists element by element, and dicts key by key
 * against their own acceptable-value lists.
 */
export function checkCall(predicted: ToolCallValue, gold: GoldCall): CallCheck {
  if (predicted.name !== gold.name) return { valid: false, errors: [`function \`${predicted.name}\` instead of \`${gold.name}\``] };
  const errors = checkArguments(predicted.arguments, gold.arguments, '');
  return { valid: errors.length === 0, errors };
}

function checkArguments(args: Record<string, unknown>, gold: Readonly<Record<string, readonly unknown[]>>, prefix: string): string[] {
  const errors: string[] = [];
  for (const key of Object.keys(args)) {
    if (!Object.hasOwn(gold, key)) errors.push(`\`${prefix}${key}\`: unexpected argument`);
  }
  for (const [key, accepted] of Object.entries(gold)) {
    if (!Object.hasOwn(args, key)) {
      if (!accepted.includes('')) errors.push(`\`${prefix}${key}\`: missing`);
      continue;
    }
    if (!accepted.some((a) => valueMatches(args[key], a))) {
      errors.push(`\`${prefix}${key}\`: ${JSON.stringify(args[key])} is not one of ${JSON.stringify(accepted)}`);
    }
  }
  return errors;
}

function valueMatches(value: unknown, accepted: unknown): boolean {
  if (typeof accepted === 'string') return typeof value === 'string' && standardizeString(value) === standardizeString(accepted);
  if (typeof accepted === 'number') return typeof value === 'number' && value === accepted;
  if (accepted === null || typeof accepted === 'boolean') return value === accepted;
  if (Array.isArray(accepted)) {
    return Array.isArray(value) && value.length === accepted.length && accepted.every((a, i) => valueMatches(value[i], a));
  }
  if (typeof accepted === 'object') {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
    const template = accepted as Record<string, unknown>;
    const isTemplate = Object.values(template).every(Array.isArray);
    if (!isTemplate) return JSON.stringify(value) === JSON.stringify(accepted);
    return checkArguments(value as Record<string, unknown>, template as Record<string, unknown[]>, '').length === 0;
  }
  return false;
}

/** BFCL's string standardisation: drop spaces and `,./-_*^`, lower-case, `'` → `"`. */
export function standardizeString(text: string): string {
  return text
    .replace(/[ ,./\-_*^]/g, '')
    .toLowerCase()
    .replace(/'/g, '"');
}

/** Per-gold-call outcome inside an {@link ExampleScore}. */
export interface GoldCallResult {
  /** The gold call's function name. */
  readonly name: string;
  /** Index of the predicted call matched to it, or null. */
  readonly matched: number | null;
  /** When unmatched: the errors against the closest predicted call of the same name (or why none). */
  readonly errors: string[];
}

/** Score of one example. */
export interface ExampleScore {
  /** Trace id. */
  readonly id: string;
  /** Trace category. */
  readonly category: string;
  /** All gold calls matched one-to-one and no extra call was made (for "no call" gold: no call made). */
  readonly correct: boolean;
  /** One entry per gold call. */
  readonly calls: GoldCallResult[];
  /** Predicted calls matched to no gold call. */
  readonly extra: number;
  /** How the calls were read from the completion. */
  readonly format: ToolCallFormat;
  /** The calls read from the completion. */
  readonly predicted: ToolCallValue[];
}

/**
 * Scores predicted calls against gold calls. Order does not matter (BFCL's parallel rule): gold
 * and predicted calls are matched one-to-one so that as many gold calls as possible are matched
 * (exhaustive search, fine for the handful of calls per example). The example is correct when
 * every gold call is matched and nothing extra was called; a "no call" gold is correct only when
 * the prediction makes no call.
 */
export function scoreCalls(
  predicted: readonly ToolCallValue[],
  gold: readonly GoldCall[],
  meta: { id: string; category: string; format?: ToolCallFormat },
): ExampleScore {
  const valid = gold.map((g) => predicted.map((p) => checkCall(p, g).valid));
  const assignment = bestMatching(valid);
  const used = new Set(assignment.filter((a): a is number => a !== null));
  const calls = gold.map((g, i): GoldCallResult => {
    const matched = assignment[i] ?? null;
    if (matched !== null) return { name: g.name, matched, errors: [] };
    const sameName = predicted.map((p, j) => ({ p, j })).filter(({ p, j }) => p.name === g.name && !used.has(j));
    const errors =
      sameName.length > 0
        ? checkCall((sameName[0] as { p: ToolCallValue }).p, g).errors
        : [predicted.length === 0 ? 'no call was made' : `no free call of \`${g.name}\``];
    return { name: g.name, matched: null, errors };
  });
  const extra = predicted.length - used.size;
  const correct = calls.every((c) => c.matched !== null) && extra === 0;
  return { id: meta.id, category: meta.category, correct, calls, extra, format: meta.format ?? 'json', predicted: [...predicted] };
}

/** Parses a completion with {@link parseToolCalls} and scores it against a trace's gold calls. */
export function scoreCompletion(completion: string, trace: Pick<GaiaTrace, 'id' | 'category' | 'gold'>): ExampleScore {
  const parsed = parseToolCalls(completion);
  return scoreCalls(parsed.calls, trace.gold.calls, { id: trace.id, category: trace.category, format: parsed.format });
}

/** Maximum one-to-one matching of rows (gold) to columns (predicted) where `valid[i][j]`. */
function bestMatching(valid: readonly (readonly boolean[])[]): (number | null)[] {
  let best: (number | null)[] = valid.map(() => null);
  let bestCount = 0;
  const current: (number | null)[] = [];
  const taken = new Set<number>();
  const search = (i: number, count: number): void => {
    if (count + (valid.length - i) <= bestCount) return;
    if (i === valid.length) {
      best = [...current];
      bestCount = count;
      return;
    }
    const row = valid[i] as readonly boolean[];
    for (let j = 0; j < row.length; j++) {
      if (!row[j] || taken.has(j)) continue;
      taken.add(j);
      current.push(j);
      search(i + 1, count + 1);
      current.pop();
      taken.delete(j);
    }
    current.push(null);
    search(i + 1, count);
    current.pop();
  };
  search(0, 0);
  return best;
}

/** Totals over many {@link ExampleScore}s. */
export interface ScoreSummary {
  /** Examples scored. */
  readonly examples: number;
  /** Examples fully correct. */
  readonly correct: number;
  /** correct / examples. */
  readonly accuracy: number;
  /** Gold calls matched / gold calls. */
  readonly callRecall: number;
  /** Predicted calls matched / predicted calls (1 when nothing was predicted). */
  readonly callPrecision: number;
  /** Accuracy per category. */
  readonly byCategory: Readonly<Record<string, { examples: number; correct: number; accuracy: number }>>;
}

/** Sums example scores into accuracy, call recall/precision and per-category accuracy. */
export function summarizeScores(scores: readonly ExampleScore[]): ScoreSummary {
  let goldCalls = 0;
  let matched = 0;
  let predictedCalls = 0;
  const byCategory: Record<string, { examples: number; correct: number; accuracy: number }> = {};
  for (const s of scores) {
    goldCalls += s.calls.length;
    const m = s.calls.filter((c) => c.matched !== null).length;
    matched += m;
    predictedCalls += m + s.extra;
    const c = (byCategory[s.category] ??= { examples: 0, correct: 0, accuracy: 0 });
    c.examples += 1;
    if (s.correct) c.correct += 1;
  }
  for (const c of Object.values(byCategory)) c.accuracy = c.correct / c.examples;
  const correct = scores.filter((s) => s.correct).length;
  return {
    examples: scores.length,
    correct,
    accuracy: scores.length === 0 ? 0 : correct / scores.length,
    callRecall: goldCalls === 0 ? 1 : matched / goldCalls,
    callPrecision: predictedCalls === 0 ? 1 : matched / predictedCalls,
    byCategory,
  };
}
