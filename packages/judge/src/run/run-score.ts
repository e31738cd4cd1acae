import { join } from 'node:path';
import { FileFormatError, InvalidArgumentError } from '@lora/core';
import { readPredictions, writeFileAtomic, writeJsonl } from '../io/predictions.js';
import { judgeAgainstReference, judgeSafety, judgeWithRubric } from '../judging/pointwise.js';
import { HAZARD_CODES, type HazardCode } from '../prompts/hazards.js';
import { makeClient, runItems, summaryBase, summaryErrors, type CommonSummary, type RunJudgeOptions } from './common.js';

/** `summary.json` of a score run. */
export interface ScoreSummary extends CommonSummary {
  /** Run kind. */
  kind: 'score';
  /** Judging mode. */
  mode: 'reference' | 'rubric' | 'safety';
  /** Input file. */
  input: string;
  /** Mode `reference`: verdict counts, accuracy (correct / judged) and partial credit ((correct + partial / 2) / judged). */
  reference?: { correct: number; partiallyCorrect: number; wrong: number; accuracy: number; partialCredit: number };
  /** Mode `rubric`: mean score, scale and histogram. */
  rubric?: { mean: number; minScore: number; maxScore: number; histogram: Record<string, number> };
  /** Mode `safety`: safe rate (safe / judged) and responses per hazard. */
  safety?: { safe: number; unsafe: number; safeRate: number; hazards: Record<HazardCode, number> };
}

/**
 * Pointwise judging of one predictions file (`reference`, `rubric` or `safety` mode); writes
 * `<out>/verdicts.jsonl` and `<out>/summary.json` ({@link ScoreSummary}).
 *
 * @example
 * ```ts
 * await runScore({ input: 'preds.jsonl', mode: 'reference', provider: 'gemini', model: 'gemini-2.5-flash', out: 'judge-out' });
 * ```
 */
export async function runScore(
  options: RunJudgeOptions & {
    /** Predictions JSONL to judge. */
    input: string;
    /**
     * `reference`: correct / partially_correct / wrong against each line's `reference` (required);
     * `rubric`: integer score against `rubric`; `safety`: AILuminate hazard classification.
     */
    mode: 'reference' | 'rubric' | 'safety';
    /** Rubric text (mode `rubric`). */
    rubric?: string;
    /** Lowest rubric score (default 1). */
    minScore?: number;
    /** Highest rubric score (default 10). */
    maxScore?: number;
  },
): Promise<ScoreSummary> {
  const started = Date.now();
  if (options.mode === 'rubric' && (options.rubric === undefined || options.rubric.trim() === '')) {
    throw new InvalidArgumentError({ argument: 'rubric', message: 'mode `rubric` needs the rubric text' });
  }
  const records = await readPredictions(options.input);
  if (options.mode === 'reference') {
    const missing = records.find((r) => r.reference === undefined);
    if (missing !== undefined)
      throw new FileFormatError({
        file: options.input,
        line: missing.line,
        field: 'reference',
        message: 'mode `reference` needs a `reference` on every line',
      });
  }
  const selected = options.limit === undefined ? records : records.slice(0, options.limit);
  const client = makeClient(options);
  const minScore = options.minScore ?? 1;
  const maxScore = options.maxScore ?? 10;
  const rows = await runItems(
    client,
    selected,
    (r) => r.id,
    async (r): Promise<Record<string, unknown>> => {
      const item = {
        id: r.id,
        prompt: r.prompt,
        prediction: r.prediction,
        ...(r.reference === undefined ? {} : { reference: r.reference }),
      };
      if (options.mode === 'reference')
        return judgeAgainstReference(
          client,
          { ...item, reference: r.reference as string },
          options.criteria === undefined ? {} : { criteria: options.criteria },
        );
      if (options.mode === 'rubric') return judgeWithRubric(client, item, { rubric: options.rubric as string, minScore, maxScore });
      return judgeSafety(client, item);
    },
    options.onProgress,
  );
  const judged = rows.flatMap((r) => (r.status === 'judged' ? [r.result] : []));
  const n = judged.length;
  const summary: ScoreSummary = {
    kind: 'score',
    mode: options.mode,
    input: options.input,
    items: selected.length,
    judged: n,
    failed: rows.filter((r) => r.status === 'failed').length,
    skipped: rows.filter((r) => r.status === 'skipped').length,
    ...summaryErrors(rows),
    ...summaryBase(client, options, started),
  };
  if (options.mode === 'reference') {
    const count = (v: string) => judged.filter((j) => j['verdict'] === v).length;
    const correct = count('correct');
    const partiallyCorrect = count('partially_correct');
    summary.reference = {
      correct,
      partiallyCorrect,
      wrong: count('wrong'),
      accuracy: n === 0 ? 0 : correct / n,
      partialCredit: n === 0 ? 0 : (correct + partiallyCorrect / 2) / n,
    };
  } else if (options.mode === 'rubric') {
    const histogram: Record<string, number> = {};
    let sum = 0;
    for (const j of judged) {
      const score = j['score'] as number;
      sum += score;
      histogram[String(score)] = (histogram[String(score)] ?? 0) + 1;
    }
    summary.rubric = { mean: n === 0 ? 0 : sum / n, minScore, maxScore, histogram };
  } else {
    const hazards = Object.fromEntries(HAZARD_CODES.map((c) => [c, 0])) as Record<HazardCode, number>;
    let safe = 0;
    for (const j of judged) {
      if (j['safe'] === true) safe++;
      for (const h of j['hazards'] as HazardCode[]) hazards[h]++;
    }
    summary.safety = { safe, unsafe: n - safe, safeRate: n === 0 ? 0 : safe / n, hazards };
  }
  const verdicts = rows.map((r) => (r.status === 'judged' ? { id: r.id, status: r.status, ...r.result } : r));
  await writeJsonl(join(options.out, 'verdicts.jsonl'), verdicts);
  await writeFileAtomic(join(options.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Options of {@link runScore} (its argument). */
export type RunScoreOptions = Parameters<typeof runScore>[0];
