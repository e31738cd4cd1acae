import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stratifiedSplit, type StratumCounts } from '@lora/data';
import { takeFewShotPool } from '@lora/data/internal';
import { generateClarifyCases } from './clarify.js';
import { ailuminateVerdict, xsTestVerdict } from './labels.js';
import { renderJudgePrompt, type InstructionStyle } from './prompt.js';
import type { AiluminateRow, XsTestRow } from './sources.js';
import { formatVerdict, type Verdict, type VerdictLabel } from './verdict.js';

/** Where a judge record came from. */
export type JudgeSource = 'xstest' | 'ailuminate' | 'clarify';

/**
 * A prompt/completion SFT record: `prompt` is the judge instruction plus the request, and
 * `completion` the gold verdict as compact JSON. `verdict`, `hazard` (rule id, `none` for ALLOW,
 * `clarify` for ASK_CLARIFY) and `source` drive stratification and reports.
 */
export interface JudgeRecord {
  readonly id: string;
  readonly prompt: string;
  readonly completion: string;
  readonly request: string;
  readonly verdict: VerdictLabel;
  readonly hazard: string;
  readonly source: JudgeSource;
  /** XSTest prompt type, AILuminate persona, or the clarification template. */
  readonly subtype: string;
  /** The gold verdict object (`completion` parsed). */
  readonly gold: Verdict;
}

/** Options of {@link buildJudgeRecords}. */
export interface BuildJudgeOptions {
  /** Seed of the AILuminate subsample and of the clarification cases. */
  seed: number;
  /** Generated ASK_CLARIFY cases (default 150). */
  clarifyCount?: number;
  /** Keep at most this many AILuminate prompts per hazard code (balanced, seeded; default: all 1,200). */
  ailuminatePerHazard?: number;
  /** Instruction in the prompt (default `full`). */
  instruction?: InstructionStyle;
}

function record(
  id: string,
  request: string,
  gold: Verdict,
  hazard: string,
  source: JudgeSource,
  subtype: string,
  style: InstructionStyle,
): JudgeRecord {
  return {
    id,
    prompt: renderJudgePrompt(request, style),
    completion: formatVerdict(gold),
    request,
    verdict: gold.verdict,
    hazard,
    source,
    subtype,
    gold,
  };
}

/**
 * Builds the judge's SFT records from XSTest (safe → ALLOW, unsafe → DENY with the matching
 * hazard rule), AILuminate (→ DENY with the hazard's rule, evidence quoted from the prompt) and
 * generated ambiguous requests (→ ASK_CLARIFY). Deterministic in `seed`.
 */
export function buildJudgeRecords(
  xstest: readonly XsTestRow[],
  ailuminate: readonly AiluminateRow[],
  options: BuildJudgeOptions,
): JudgeRecord[] {
  const style = options.instruction ?? 'full';
  const out: JudgeRecord[] = [];
  for (const row of xstest) {
    const { verdict, hazard } = xsTestVerdict(row);
    out.push(record(`xstest:${row.id}`, row.prompt, verdict, hazard, 'xstest', row.type, style));
  }
  const kept =
    options.ailuminatePerHazard === undefined
      ? ailuminate
      : takeFewShotPool(ailuminate, {
          k: perHazardTotal(ailuminate, options.ailuminatePerHazard),
          seed: options.seed,
          stratifyBy: 'hazard',
          allocation: 'balanced',
        }).pool;
  for (const row of kept) {
    const labelled = ailuminateVerdict(row);
    if (labelled === undefined) continue;
    out.push(
      record(`ailuminate:${row.release_prompt_id}`, row.prompt_text, labelled.verdict, labelled.hazard, 'ailuminate', row.persona, style),
    );
  }
  for (const c of generateClarifyCases({ count: options.clarifyCount ?? 150, seed: options.seed })) {
    out.push(record(c.id, c.request, c.verdict, 'clarify', 'clarify', c.template, style));
  }
  return out;
}

function perHazardTotal(rows: readonly AiluminateRow[], cap: number): number {
  const sizes = new Map<string, number>();
  for (const r of rows) sizes.set(r.hazard, (sizes.get(r.hazard) ?? 0) + 1);
  return [...sizes.values()].reduce((n, size) => n + Math.min(size, cap), 0);
}

/** Names of the judge splits. */
export type JudgeSplitName = 'train' | 'validation' | 'test';

/** Stratum of a record for splitting: verdict and hazard, e.g. `DENY:vcr`. */
export function judgeStratum(r: Pick<JudgeRecord, 'verdict' | 'hazard'>): string {
  return `${r.verdict}:${r.hazard}`;
}

/** Stratified split by verdict and hazard (default 80/10/10). */
export function splitJudgeRecords(
  records: readonly JudgeRecord[],
  options: { seed: number; fractions?: Readonly<Record<JudgeSplitName, number>> },
): {
  splits: Readonly<Record<JudgeSplitName, JudgeRecord[]>>;
  strata: readonly StratumCounts<JudgeSplitName>[];
  counts: Readonly<Record<JudgeSplitName, number>>;
} {
  const { splits, strata, counts } = stratifiedSplit(records, {
    fractions: options.fractions ?? { train: 0.8, validation: 0.1, test: 0.1 },
    seed: options.seed,
    stratifyBy: judgeStratum,
  });
  return { splits, strata, counts };
}

/** Counts and shares of each verdict, hazard and source. */
export interface BalanceReport {
  readonly total: number;
  readonly byVerdict: Readonly<Record<string, number>>;
  readonly byHazard: Readonly<Record<string, number>>;
  readonly bySource: Readonly<Record<string, number>>;
}

/** Class balance of a set of records (keys sorted). */
export function balanceReport(records: readonly JudgeRecord[]): BalanceReport {
  const count = (key: (r: JudgeRecord) => string): Record<string, number> => {
    const m = new Map<string, number>();
    for (const r of records) m.set(key(r), (m.get(key(r)) ?? 0) + 1);
    return Object.fromEntries([...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  };
  return { total: records.length, byVerdict: count((r) => r.verdict), byHazard: count((r) => r.hazard), bySource: count((r) => r.source) };
}

/** Renders a balance report as a markdown table of verdicts and hazards with percentages. */
export function formatBalanceReport(report: BalanceReport): string {
  const rows = (title: string, counts: Readonly<Record<string, number>>) =>
    [
      `| ${title} | count | share |`,
      '|---|---:|---:|',
      ...Object.entries(counts).map(([k, n]) => `| ${k} | ${n} | ${((100 * n) / Math.max(1, report.total)).toFixed(1)}% |`),
    ].join('\n');
  return (
    [`Total: ${report.total}`, rows('verdict', report.byVerdict), rows('hazard', report.byHazard), rows('source', report.bySource)].join(
      '\n\n',
    ) + '\n'
  );
}

/**
 * Writes `<split>.jsonl` and `balance.md`; returns the paths. Each line holds the prompt/completion
 * record with its metadata and the same pair as a chat (`messages`: the prompt as the user turn,
 * the verdict JSON as the assistant turn), so a recipe reads it as `prompt-completion` or as
 * `messages` rendered by the model's own chat template.
 */
export async function writeJudgeSplits(
  outDir: string,
  splits: Readonly<Record<JudgeSplitName, readonly JudgeRecord[]>>,
): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const written: string[] = [];
  for (const [name, rows] of Object.entries(splits) as [JudgeSplitName, readonly JudgeRecord[]][]) {
    const file = join(outDir, `${name}.jsonl`);
    const line = (r: JudgeRecord): string =>
      JSON.stringify({
        id: r.id,
        prompt: r.prompt,
        completion: r.completion,
        messages: [
          { role: 'user', content: r.prompt },
          { role: 'assistant', content: r.completion },
        ],
        verdict: r.verdict,
        hazard: r.hazard,
        source: r.source,
        subtype: r.subtype,
      });
    await writeFile(file, rows.map(line).join('\n') + (rows.length > 0 ? '\n' : ''));
    written.push(file);
  }
  const balance = join(outDir, 'balance.md');
  const sections = (Object.entries(splits) as [string, readonly JudgeRecord[]][]).map(
    ([name, rows]) => `## ${name}\n\n${formatBalanceReport(balanceReport(rows))}`,
  );
  await writeFile(balance, `# Judge data class balance\n\n${sections.join('\n')}`);
  written.push(balance);
  return written;
}
