import { writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { resolveAsset } from '@lora/core';
import { renderChat } from '@lora/data';
import type { RunMetrics } from '@lora/eval';
import { rebuildReport, writeRunMetrics } from '@lora/eval/internal';
import { type CreateJudgeModelOptions, type ScoreSummary as JudgeScoreSummary, runScore } from '@lora/judge';
import { compareAdapter, loadRecipe, type PipelineOptions, type TrainingSummary } from '@lora/recipe';
import { choosePreset, reportFiles, trainingSection } from '@lora/recipe/internal';
import { type GaiaDataOptions, hasGaiaDataset, referenceText, writeGaiaDataset } from './dataset.js';
import { type HeadToHead, headToHead, headToHeadMarkdown } from './head-to-head.js';
import { type ExampleScore, scoreCompletion, summarizeScores } from './score.js';
import { type GaiaTrace, readGaiaTraces } from './trace.js';

/** A named configuration: the recipe file and how the data folder is built. */
export interface GaiaPreset {
  /** Recipe file in `examples/gaia/recipes/`. */
  recipe: string;
  /** Data settings (the source and the call style are filled in by the pipeline). */
  data: Omit<GaiaDataOptions, 'source' | 'toolCallStyle'>;
  /**
   * How calls are written: `text` (`<tool_call>` lines in the messages, for chat templates without
   * tool support) or `tool_calls` (structured, rendered by the template with the tools). Default:
   * `text` for the stories template, `tool_calls` for a model's own template.
   */
  toolCallStyle?: GaiaDataOptions['toolCallStyle'];
}

/** Folder of the recipe files shipped with this example. */
export const GAIA_RECIPES_DIR = fileURLToPath(new URL('../recipes/', import.meta.url));

/**
 * `smoke`: short BFCL traces with a compact system prompt for stories260K (minutes on 2 cores);
 * `full`: every single-turn BFCL trace with the full tool schemas (point the recipe at a real model);
 * `smollm2`: LoRA on SmolLM2-135M-Instruct in its own ChatML template, which has no tool support:
 * compact system prompt, calls as `<tool_call>` text, traces ≤ 800 characters, 70 per category
 * (326 / 41 / 41; about 15 minutes on 2 cores).
 */
export const GAIA_PRESETS = {
  smoke: { recipe: 'smoke.yaml', data: { compact: true, maxChars: 600, perCategory: 30, seed: 42 } },
  full: { recipe: 'full.yaml', data: { seed: 42 } },
  smollm2: { recipe: 'smollm2.yaml', data: { compact: true, maxChars: 800, perCategory: 70, seed: 42 }, toolCallStyle: 'text' },
} as const satisfies Record<string, GaiaPreset>;

/** Name of a preset. */
export type GaiaPresetName = keyof typeof GAIA_PRESETS;

/** A judge API for the optional judge pass: provider, model, base URL, key (else from the environment). */
export type JudgeSettings = Pick<CreateJudgeModelOptions, 'provider' | 'model' | 'baseUrl' | 'apiKey'>;

/** Options of {@link runPipeline}. */
export interface RunPipelineOptions extends PipelineOptions {
  /** Preset (default `smoke`). */
  preset?: GaiaPresetName;
  /** Your own GAIA-style JSONL traces instead of BFCL. */
  traces?: string;
  /** Judge pass (each answer graded against the reference); skipped when absent. */
  judge?: JudgeSettings;
  /** Override of the preset's traces per category (new data folders only). */
  perCategory?: number;
}

/** What {@link runPipeline} produced. */
export interface PipelineResult {
  out: string;
  files: {
    summary: string;
    table: string;
    plots: string[];
    metrics: string[];
    predictions: string[];
    headToHead: string;
    pipelineSummary: string;
    lossPlot: string;
  };
  train: TrainingSummary;
  /** `base` and `lora`. */
  runs: RunMetrics[];
  /** Adapter vs base on exact tool-call correctness. */
  headToHead: HeadToHead;
  /** Judge summaries per run, when a judge was configured. */
  judge?: Record<string, JudgeScoreSummary>;
  wallMs: number;
}

/**
 * The GAIA recipe end to end: BFCL (or your JSONL) → `<out>/data` → LoRA training on assistant
 * turns (`<out>/train`) → base (adapter disabled) and adapter answers on the test split in one
 * process → tool calls parsed and scored against gold (exact function + argument match, BFCL's
 * rules: `gaia.accuracy`, call recall / precision, accuracy per category) → optional judge pass
 * (reference grading by Gemini / OpenAI / an OpenAI-compatible server) → head-to-head win / tie
 * counts → report files in `<out>` (`comparison_summary.md`, `comparison_table.csv`,
 * `metrics_<run>.json`, `predictions_<run>.jsonl`, `plots/`, `head_to_head.json`,
 * `pipeline_summary.json`).
 *
 * @example
 * ```ts
 * const { headToHead } = await runPipeline({ preset: 'smoke', out: 'runs/gaia-smoke' });
 * ```
 */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineResult> {
  const started = performance.now();
  const log = options.log ?? ((line: string) => void process.stderr.write(`${line}\n`));
  const preset = choosePreset<GaiaPreset>(GAIA_PRESETS, options.preset, 'smoke');
  const out = resolve(options.out);
  const dataDir = join(out, 'data');
  const env = { ...(options.env ?? process.env), GAIA_DATA: dataDir };
  const recipeFile = options.recipeFile ?? join(GAIA_RECIPES_DIR, preset.recipe);
  const loaded = await loadRecipe(recipeFile, env);
  const stories = loaded.recipe.data.chatTemplate === 'stories';
  // Templates without tool support (stories, or a preset that says so) get the calls as <tool_call> text.
  const toolCallStyle = preset.toolCallStyle ?? (stories ? 'text' : 'tool_calls');
  if (!hasGaiaDataset(dataDir)) {
    // Without LORA_ASSETS_DIR/data/bfcl, the resolver's error names where it looked; --traces FILE.jsonl avoids it.
    const source = options.traces ?? (await resolveAsset('bfcl', { kind: 'dataset', env, allowDownload: false }));
    const perCategory = options.perCategory === undefined ? {} : { perCategory: options.perCategory };
    const written = writeGaiaDataset(dataDir, { ...preset.data, ...perCategory, source, toolCallStyle });
    log(
      `[gaia] wrote ${written.counts.train} / ${written.counts.validation} / ${written.counts.test} traces from ${source} into ${dataDir}`,
    );
  } else {
    log(`[gaia] using the data in ${dataDir}`);
  }

  const byId = new Map<string, GaiaTrace>();
  const scores: Record<string, ExampleScore[]> = {};
  const { maxSteps, evalLimit, maxNewTokens } = options;
  const evaluated = await compareAdapter(loaded, {
    out,
    label: 'gaia',
    log,
    env,
    maxSteps,
    evalLimit,
    maxNewTokens,
    validationLoss: true,
    testRows: ({ evaluation, tokenizer, chatTemplate }) =>
      readGaiaTraces(evaluation.test).map((t) => {
        byId.set(t.id, t);
        const lastAssistant = t.messages.map((m) => m.role).lastIndexOf('assistant');
        const prompt = renderChat(tokenizer, t.messages.slice(0, lastAssistant), {
          addGenerationPrompt: true,
          ...(chatTemplate === undefined ? {} : { chatTemplate }),
          ...(toolCallStyle === 'text' || t.tools.length === 0 ? {} : { tools: t.tools as never }),
        });
        // A chat-template render: encoded without added special tokens unless the recipe pins `addBos`.
        return { id: t.id, prompt, addSpecialTokens: false, reference: referenceText(t), category: t.category };
      }),
    metrics: [{ kind: 'json_valid', tag: 'tool_call' }],
    evaluate: {
      ...(stories ? { stop: ['\nUser:'] } : {}),
      // Exact tool-call scoring against gold (BFCL's AST rules).
      taskMetrics: (records, run) => {
        const s = records.map((p) => scoreCompletion(p.prediction, byId.get(p.id) as GaiaTrace));
        scores[run] = s;
        const summary = summarizeScores(s);
        return {
          raw: {
            'gaia.accuracy': summary.accuracy,
            'gaia.call_recall': summary.callRecall,
            'gaia.call_precision': summary.callPrecision,
            ...Object.fromEntries(Object.entries(summary.byCategory).map(([cat, c]) => [`gaia.accuracy[${cat}]`, c.accuracy])),
          },
          perExample: Object.fromEntries(s.map((e) => [e.id, { 'gaia.correct': e.correct ? 1 : 0 }])),
        };
      },
    },
  });
  const { runs, train } = evaluated;

  let judge: Record<string, JudgeScoreSummary> | undefined;
  if (options.judge !== undefined) {
    judge = {};
    for (const run of runs) {
      log(`[gaia] judge ${options.judge.provider}/${options.judge.model}: grading ${run.run} against the references`);
      const summary = await runScore({
        input: join(out, run.predictionsFile),
        mode: 'reference',
        ...options.judge,
        out: join(out, 'judge', run.run),
        criteria:
          'The answer must call the same functions with equivalent arguments as the reference (order of calls does not matter), or decline like the reference when no function fits.',
      });
      judge[run.run] = summary;
      run.metrics.raw['judge.accuracy'] = summary.reference?.accuracy ?? Number.NaN;
      run.metrics.raw['judge.partial_credit'] = summary.reference?.partialCredit ?? Number.NaN;
      writeRunMetrics(out, run);
    }
  }
  const report = rebuildReport(out);
  const correct = (run: string) => (scores[run] ?? []).map((s) => ({ id: s.id, category: s.category, correct: s.correct }));
  const h2h = headToHead(correct('base'), correct('lora'));
  const headToHeadFile = join(out, 'head_to_head.json');
  writeFileSync(headToHeadFile, `${JSON.stringify(h2h, null, 2)}\n`);
  const wallMs = performance.now() - started;
  await appendFile(report.summary, headToHeadMarkdown(h2h, { base: 'base', adapter: 'lora' }) + trainingSection(train, wallMs));
  const pipelineSummary = join(out, 'pipeline_summary.json');
  const runSummary = (r: RunMetrics) => [
    r.run,
    { metrics: r.metrics.raw, latencyMs: r.stats?.latencyMs, peakTensorBytes: r.stats?.peakTensorBytes },
  ];
  const summary = {
    recipe: recipeFile,
    model: loaded.recipe.model,
    train,
    wallMs,
    headToHead: h2h,
    runs: Object.fromEntries(runs.map(runSummary)),
  };
  writeFileSync(pipelineSummary, `${JSON.stringify(summary, null, 2)}\n`);
  log(formatSummary(runs, train, h2h, wallMs));
  const files = { ...reportFiles(out, report, runs, evaluated.trained.output), headToHead: headToHeadFile, pipelineSummary };
  return { out, files, train, runs, headToHead: h2h, ...(judge === undefined ? {} : { judge }), wallMs };
}

/** The short text summary printed at the end of a pipeline run. */
export function formatSummary(runs: readonly RunMetrics[], train: PipelineResult['train'], h: HeadToHead, wallMs: number): string {
  const fmt = (v: number | undefined, d = 3) => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(d));
  const keys = [
    'validation_loss',
    'gaia.accuracy',
    'gaia.call_recall',
    'gaia.call_precision',
    'json_valid.lenient',
    'judge.accuracy',
  ].filter((k) => runs.some((r) => r.metrics.raw[k] !== undefined));
  const lines = [`${'metric'.padEnd(28)}${runs.map((r) => r.run.padStart(10)).join('')}`];
  for (const k of keys) lines.push(`${k.padEnd(28)}${runs.map((r) => fmt(r.metrics.raw[k]).padStart(10)).join('')}`);
  lines.push(
    `${'latency mean / p95 ms'.padEnd(28)}${runs.map((r) => `${fmt(r.stats?.latencyMs.mean, 0)}/${fmt(r.stats?.latencyMs.p95, 0)}`.padStart(10)).join('')}`,
  );
  lines.push(`head-to-head on ${h.examples}: lora wins ${h.wins}, ties ${h.ties} (${h.bothRight} both right), base wins ${h.losses}`);
  lines.push(
    `train loss ${train.firstLoss.toFixed(3)} → ${train.lastLoss.toFixed(3)} in ${train.steps} steps; total ${(wallMs / 1000).toFixed(1)} s`,
  );
  return lines.join('\n');
}
