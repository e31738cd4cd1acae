/**
 * GSM8K answer extraction and scoring exactly as lm-evaluation-harness' `gsm8k` task (version 3,
 * `lm_eval/tasks/gsm8k/gsm8k.yaml`) defines them:
 *
 * - `strict-match`: `regex` filter `#### (\-?[0-9\.\,]+)` (first match) then `take_first`.
 * - `flexible-extract`: `regex` filter `(-?[$0-9.,]{2,})|(-?[0-9]+)` with `group_select: -1`
 *   (the last match; its first non-empty group) then `take_first`.
 *
 * A response with no match becomes the fallback `[invalid]`; a match is stripped of surrounding
 * whitespace. Scoring is the task's `exact_match`: `regexes_to_ignore` `,`, `\$`, `(?s).*#### `
 * and `\.$` are removed from prediction and reference alike (the reference being the dataset's
 * full `answer` text), both are lower-cased, then compared.
 */

/** The harness' fallback when the regex finds nothing. */
export const GSM8K_INVALID = '[invalid]';

const STRICT = /#### (-?[0-9.,]+)/g;
const FLEXIBLE = /(-?[$0-9.,]{2,})|(-?[0-9]+)/g;

/** Python's `str.strip()` with no argument (Unicode whitespace). */
function pyStrip(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: \x1c-\x1f are whitespace to Python's str.strip, which this mirrors.
  return s.replace(/^[\s\x1c-\x1f\x85]+|[\s\x1c-\x1f\x85]+$/gu, '');
}

/** `strict-match` extraction: the number after the first `#### `, else `[invalid]`. */
export function gsm8kStrictExtract(response: string): string {
  const first = [...response.matchAll(STRICT)][0];
  return first === undefined ? GSM8K_INVALID : pyStrip(first[1] ?? '');
}

/** `flexible-extract` extraction: the last number-like span, else `[invalid]`. */
export function gsm8kFlexibleExtract(response: string): string {
  const all = [...response.matchAll(FLEXIBLE)];
  const last = all[all.length - 1];
  if (last === undefined) return GSM8K_INVALID;
  const group = [last[1], last[2]].find((g) => g !== undefined && g !== '');
  return group === undefined ? GSM8K_INVALID : pyStrip(group);
}

/**
 * The task's `exact_match` preprocessing of one string: remove `,`, `$`, everything up to the last
 * `#### `, and a final `.` (Python's `$` also matches before a trailing newline), then lower-case.
 */
export function gsm8kNormalize(s: string): string {
  return s
    .replace(/,/g, '')
    .replace(/\$/g, '')
    .replace(/[\s\S]*#### /g, '')
    .replace(/\.(?=\n?$)/, '')
    .toLowerCase();
}

/** Scores of one GSM8K response. */
export interface Gsm8kScore {
  strict: string;
  flexible: string;
  strictMatch: number;
  flexibleMatch: number;
}

/** Extracts both answers from `response` and compares them with the dataset's `answer` text. */
export function gsm8kScore(response: string, referenceAnswer: string): Gsm8kScore {
  const strict = gsm8kStrictExtract(response);
  const flexible = gsm8kFlexibleExtract(response);
  const gold = gsm8kNormalize(referenceAnswer);
  return {
    strict,
    flexible,
    strictMatch: gsm8kNormalize(strict) === gold ? 1 : 0,
    flexibleMatch: gsm8kNormalize(flexible) === gold ? 1 : 0,
  };
}

/** Mean `exact_match` under both filters. */
export function gsm8kAccuracy(pairs: readonly { prediction: string; reference: string }[]): {
  strictMatch: number;
  flexibleExtract: number;
  count: number;
} {
  const n = pairs.length;
  let s = 0;
  let f = 0;
  for (const p of pairs) {
    const r = gsm8kScore(p.prediction, p.reference);
    s += r.strictMatch;
    f += r.flexibleMatch;
  }
  return { strictMatch: n === 0 ? 0 : s / n, flexibleExtract: n === 0 ? 0 : f / n, count: n };
}
