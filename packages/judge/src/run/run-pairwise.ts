import { basename, join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { readPredictions, writeFileAtomic, writeJsonl, type PredictionRecord } from '../io/predictions.js';
import { judgePairwise, type PairwiseResult } from '../judging/pairwise.js';
import type { Battle } from '../ratings/battles.js';
import { winTieLoss } from '../ratings/battles.js';
import { bootstrapRatings, type RatingInterval } from '../ratings/bootstrap.js';
import { bradleyTerry } from '../ratings/bradley-terry.js';
import { computeElo, computeEloOrderAveraged } from '../ratings/elo.js';
import { makeClient, runItems, summaryBase, summaryErrors, type CommonSummary, type RunJudgeOptions } from './common.js';

/** `summary.json` of a pairwise run. */
export interface PairwiseSummary extends CommonSummary {
  /** Run kind. */
  kind: 'pairwise';
  /** Display names and files of the systems. */
  models: { a: string; b: string; fileA: string; fileB: string };
  /** Ids in only one of the files (not judged). */
  unmatched: number;
  /** Items A won (both orders agreed). */
  wins: number;
  /** Items tied, including order disagreements. */
  ties: number;
  /** Items A lost. */
  losses: number;
  /** Items where the two orders disagreed (counted as ties). */
  inconsistent: number;
  /** (wins + ties / 2) / judged. */
  winRate: number;
  /** Bradley–Terry ratings (Elo scale, mean 1000) with bootstrap intervals. */
  bradleyTerry: Record<string, RatingInterval>;
  /** Order-averaged Elo with bootstrap intervals. */
  elo: Record<string, RatingInterval>;
  /** How the ratings were computed. */
  ratingMethod: { bradleyTerry: string; elo: string; bootstrapSamples: number; confidence: number; seed: number };
}

/** One line of `verdicts.jsonl` of a pairwise run. */
export type PairwiseVerdictRow = (PairwiseResult & { status: 'judged' }) | { id: string; status: 'failed' | 'skipped'; error: string };

function systemName(file: string): string {
  return basename(file).replace(/\.jsonl$/i, '');
}

/**
 * Blind pairwise judging of two prediction files: items are matched by `id`, each is judged in
 * both orders (disagreement = tie), and the run writes `<out>/verdicts.jsonl` (one row per item)
 * and `<out>/summary.json` ({@link PairwiseSummary}: wins/ties/losses, Bradley–Terry and Elo with
 * bootstrap CIs, calls made and served from cache, tokens, cost). A budget stop skips the rest
 * and is reported in `stopped`; the call does not throw for it.
 *
 * @example
 * ```ts
 * const summary = await runPairwise({ a: 'base.jsonl', b: 'lora.jsonl', provider: 'openai', model: 'gpt-4o-mini', out: 'judge-out' });
 * ```
 */
export async function runPairwise(
  options: RunJudgeOptions & {
    /** Predictions JSONL of system A. */
    a: string;
    /** Predictions JSONL of system B. */
    b: string;
    /** Display name of A in outputs (default: file name without `.jsonl`). Never shown to the judge. */
    nameA?: string;
    /** Display name of B in outputs. */
    nameB?: string;
    /** Bootstrap resamples for the confidence intervals (default 1000). */
    bootstrapSamples?: number;
    /** Confidence level of the intervals (default 0.95). */
    confidence?: number;
    /** Seed of the bootstrap and Elo orderings (default 0). */
    seed?: number;
    /** Elo K factor (default 4). */
    eloK?: number;
    /** Random orders averaged for Elo (default 100). */
    eloPermutations?: number;
    /** Virtual ties per pair in Bradley–Terry, keeping ratings finite on a sweep (default 1). */
    btPriorTies?: number;
  },
): Promise<PairwiseSummary> {
  const started = Date.now();
  const nameA = options.nameA ?? systemName(options.a);
  let nameB = options.nameB ?? systemName(options.b);
  if (nameB === nameA) nameB = `${nameB} (b)`;
  const [recordsA, recordsB] = await Promise.all([readPredictions(options.a), readPredictions(options.b)]);
  const byIdB = new Map(recordsB.map((r) => [r.id, r]));
  const pairs: Array<{ a: PredictionRecord; b: PredictionRecord }> = [];
  for (const a of recordsA) {
    const b = byIdB.get(a.id);
    if (b === undefined) continue;
    if (a.prompt !== b.prompt) {
      throw new FileFormatError({
        file: options.b,
        line: b.line,
        field: 'prompt',
        message: `prompt of id \`${a.id}\` differs from ${options.a}:${a.line}; both files must answer the same prompts`,
      });
    }
    pairs.push({ a, b });
  }
  const unmatched = recordsA.length + recordsB.length - 2 * pairs.length;
  const selected = options.limit === undefined ? pairs : pairs.slice(0, options.limit);
  const client = makeClient(options);
  const rows = await runItems(
    client,
    selected,
    (p) => p.a.id,
    (p) =>
      judgePairwise(
        client,
        {
          id: p.a.id,
          prompt: p.a.prompt,
          a: p.a.prediction,
          b: p.b.prediction,
          ...(p.a.reference === undefined ? {} : { reference: p.a.reference }),
        },
        options.criteria === undefined ? {} : { criteria: options.criteria },
      ),
    options.onProgress,
  );
  const verdicts: PairwiseVerdictRow[] = rows.map((r) => (r.status === 'judged' ? { ...r.result, status: 'judged' } : r));
  const judged = rows.flatMap((r) => (r.status === 'judged' ? [r.result] : []));
  const battles: Battle[] = judged.map((r) => ({
    model1: nameA,
    model2: nameB,
    winner: r.winner === 'a' ? 'model1' : r.winner === 'b' ? 'model2' : 'tie',
  }));
  const counts = winTieLoss(battles, nameA, nameB);
  const samples = options.bootstrapSamples ?? 1000;
  const confidence = options.confidence ?? 0.95;
  const seed = options.seed ?? 0;
  const priorTies = options.btPriorTies ?? 1;
  const eloOptions = { k: options.eloK ?? 4 };
  const bt =
    battles.length === 0 ? {} : bootstrapRatings(battles, (bs) => bradleyTerry(bs, { priorTies }).ratings, { samples, confidence, seed });
  const eloPoint = computeEloOrderAveraged(battles, { ...eloOptions, permutations: options.eloPermutations ?? 100, seed });
  const eloCi =
    battles.length === 0 ? {} : bootstrapRatings(battles, (bs) => computeElo(bs, eloOptions), { samples, confidence, seed: seed + 1 });
  const elo: Record<string, RatingInterval> = {};
  for (const [p, r] of Object.entries(eloPoint)) elo[p] = { rating: r, lower: eloCi[p]?.lower ?? r, upper: eloCi[p]?.upper ?? r };
  const summary: PairwiseSummary = {
    kind: 'pairwise',
    models: { a: nameA, b: nameB, fileA: options.a, fileB: options.b },
    items: selected.length,
    judged: judged.length,
    failed: rows.filter((r) => r.status === 'failed').length,
    skipped: rows.filter((r) => r.status === 'skipped').length,
    unmatched,
    wins: counts.wins,
    ties: counts.ties,
    losses: counts.losses,
    inconsistent: judged.filter((r) => !r.consistent).length,
    winRate: judged.length === 0 ? 0 : (counts.wins + counts.ties / 2) / judged.length,
    bradleyTerry: bt,
    elo,
    ratingMethod: {
      bradleyTerry: `MLE by MM iterations, ties = half a win each, ${priorTies} virtual tie(s) per pair; Elo scale (400·log10 strength), mean 1000`,
      elo: `sequential, K=${eloOptions.k}, averaged over ${options.eloPermutations ?? 100} seeded random orders; CI from bootstrap of single-order Elo`,
      bootstrapSamples: samples,
      confidence,
      seed,
    },
    ...summaryErrors(rows),
    ...summaryBase(client, options, started),
  };
  await writeJsonl(join(options.out, 'verdicts.jsonl'), verdicts);
  await writeFileAtomic(join(options.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  return summary;
}

/** Options of {@link runPairwise} (its argument). */
export type RunPairwiseOptions = Parameters<typeof runPairwise>[0];
