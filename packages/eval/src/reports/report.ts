import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError, InvalidArgumentError, parseJson } from '@lora/core';
import { z } from 'zod';
import type { MetricDetails, MetricValues } from '../metrics/score.js';
import type { GenerationStats } from '../runner/run-generation.js';
import { groupedBarChart, reliabilityDiagram } from './svg.js';

/** Version of the `metrics_<run>.json` layout. */
export const METRICS_FORMAT_VERSION = 1;

/** What `metrics_<run>.json` holds for one run (one variant). */
export interface RunMetrics {
  formatVersion: number;
  run: string;
  createdAt: string;
  /** Number of prediction lines scored. */
  count: number;
  /** File name of the run's predictions, beside this file. */
  predictionsFile: string;
  metrics: { raw: Record<string, number>; normalized?: Record<string, number> };
  details: { raw: MetricDetails; normalized?: MetricDetails };
  /** Runtime measurements of the last generation call (absent for MC-only or rebuilt runs). */
  stats?: GenerationStats;
  /** Free-form facts: model path, adapter, generation settings. */
  meta?: Record<string, unknown>;
}

const RunMetricsSchema = z
  .object({
    formatVersion: z.number().int(),
    run: z.string(),
    createdAt: z.string(),
    count: z.number().int(),
    predictionsFile: z.string(),
    metrics: z.object({
      raw: z.record(z.string(), z.number().nullable()),
      normalized: z.record(z.string(), z.number().nullable()).optional(),
    }),
    details: z.object({ raw: z.record(z.string(), z.unknown()), normalized: z.record(z.string(), z.unknown()).optional() }),
    stats: z.record(z.string(), z.unknown()).optional(),
    meta: z.record(z.string(), z.unknown()).optional(),
  })
  .loose();

const ManifestSchema = z.object({ formatVersion: z.number().int(), runs: z.array(z.string()) });

/** File names inside a report folder. */
export const REPORT_FILES = {
  summary: 'comparison_summary.md',
  table: 'comparison_table.csv',
  manifest: 'runs.json',
  metrics: (run: string): string => `metrics_${run}.json`,
  predictions: (run: string): string => `predictions_${run}.jsonl`,
} as const;

/** Checks a run name is usable in file names. */
export function checkRunName(run: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(run)) {
    throw new InvalidArgumentError({
      argument: 'variants[].name',
      message: `"${run}" cannot name files; use letters, digits, '.', '_' or '-'.`,
    });
  }
  return run;
}

// JSON has no NaN: store non-finite numbers as null and read them back as NaN.
const toJson = (value: unknown): string =>
  `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 1)}\n`;
const nanValues = (m: Record<string, number | null>): MetricValues =>
  Object.fromEntries(Object.entries(m).map(([k, v]) => [k, v ?? Number.NaN]));

/** Writes `metrics_<run>.json` and adds the run to the folder's `runs.json` manifest (keeping order). */
export function writeRunMetrics(dir: string, metrics: RunMetrics): void {
  checkRunName(metrics.run);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, REPORT_FILES.metrics(metrics.run)), toJson(metrics));
  const manifestPath = join(dir, REPORT_FILES.manifest);
  const runs = existsSync(manifestPath) ? parseJson(readFileSync(manifestPath, 'utf8'), ManifestSchema, { file: manifestPath }).runs : [];
  if (!runs.includes(metrics.run)) runs.push(metrics.run);
  writeFileSync(manifestPath, toJson({ formatVersion: METRICS_FORMAT_VERSION, runs }));
}

/** Reads every run's metrics in a report folder, in manifest order (else sorted by name). */
export function readRuns(dir: string): RunMetrics[] {
  const manifestPath = join(dir, REPORT_FILES.manifest);
  const onDisk = existsSync(dir)
    ? readdirSync(dir)
        .map((f) => /^metrics_(.+)\.json$/.exec(f)?.[1])
        .filter((r): r is string => r !== undefined)
        .sort()
    : [];
  const order = existsSync(manifestPath)
    ? parseJson(readFileSync(manifestPath, 'utf8'), ManifestSchema, { file: manifestPath }).runs.filter((r) => onDisk.includes(r))
    : [];
  const runs = [...order, ...onDisk.filter((r) => !order.includes(r))];
  if (runs.length === 0)
    throw new FileFormatError({ file: dir, message: 'no metrics_<run>.json files here: run an evaluation into this folder first.' });
  return runs.map((run) => {
    const file = join(dir, REPORT_FILES.metrics(run));
    const m = parseJson(readFileSync(file, 'utf8'), RunMetricsSchema, { file });
    return {
      ...m,
      metrics: {
        raw: nanValues(m.metrics.raw),
        ...(m.metrics.normalized === undefined ? {} : { normalized: nanValues(m.metrics.normalized) }),
      },
    } as RunMetrics;
  });
}

const num = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '' : String(Math.round(x * 1e6) / 1e6));
const cell = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : x.toFixed(4));
const csvField = (s: string): string => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

function metricKeys(runs: readonly RunMetrics[], pass: 'raw' | 'normalized'): string[] {
  const keys = new Set<string>();
  for (const r of runs) for (const k of Object.keys(r.metrics[pass] ?? {})) keys.add(k);
  return [...keys];
}

/** Runtime rows: name, value, and how the summary shows it (the CSV keeps 6 decimals). */
const RUNTIME_ROWS: [string, (s: GenerationStats) => number, (x: number) => string][] = [
  ['latency_mean_ms', (s) => s.latencyMs.mean, (x) => x.toFixed(1)],
  ['latency_p50_ms', (s) => s.latencyMs.p50, (x) => x.toFixed(1)],
  ['latency_p95_ms', (s) => s.latencyMs.p95, (x) => x.toFixed(1)],
  ['tokens_per_second', (s) => s.tokensPerSecond, (x) => x.toFixed(1)],
  ['peak_tensor_bytes', (s) => s.peakTensorBytes, (x) => String(Math.round(x))],
  ['new_tokens', (s) => s.newTokens, (x) => String(Math.round(x))],
];

/** Files written by `writeComparison`. */
export interface ComparisonFiles {
  summary: string;
  table: string;
  plots: string[];
}

/**
 * Writes the comparison of the given runs into `dir`: `comparison_summary.md` (metrics with and
 * without normalisation, deltas against the first run, runtime, confusion matrices),
 * `comparison_table.csv`, and SVG plots under `plots/` (bars per metric and variant, a
 * reliability diagram per run that has calibration).
 */
export function writeComparison(dir: string, runs: readonly RunMetrics[]): ComparisonFiles {
  const names = runs.map((r) => r.run);
  const rawKeys = metricKeys(runs, 'raw');
  const normKeys = metricKeys(runs, 'normalized');
  const withStats = runs.some((r) => r.stats !== undefined);
  // CSV: one row per metric, one column per run.
  const rows: string[] = [['metric', ...names].map(csvField).join(',')];
  for (const k of rawKeys) rows.push([k, ...runs.map((r) => num(r.metrics.raw[k]))].map(csvField).join(','));
  for (const k of normKeys) rows.push([`${k} (normalized)`, ...runs.map((r) => num(r.metrics.normalized?.[k]))].map(csvField).join(','));
  if (withStats)
    for (const [k, f] of RUNTIME_ROWS) rows.push([k, ...runs.map((r) => num(r.stats === undefined ? undefined : f(r.stats)))].join(','));
  rows.push(['count', ...runs.map((r) => String(r.count))].join(','));
  const tablePath = join(dir, REPORT_FILES.table);
  writeFileSync(tablePath, `${rows.join('\n')}\n`);

  // Plots.
  mkdirSync(join(dir, 'plots'), { recursive: true });
  const plots: string[] = [];
  const bar = (keys: string[], pass: 'raw' | 'normalized', file: string, title: string): void => {
    if (keys.length === 0) return;
    writeFileSync(
      join(dir, file),
      groupedBarChart(
        title,
        keys,
        runs.map((r) => ({ name: r.run, values: keys.map((k) => r.metrics[pass]?.[k] ?? Number.NaN) })),
        { max: 1 },
      ),
    );
    plots.push(file);
  };
  const bounded = (keys: string[], pass: 'raw' | 'normalized'): string[] =>
    keys.filter((k) => runs.every((r) => !((r.metrics[pass]?.[k] ?? 0) > 1)));
  bar(bounded(rawKeys, 'raw'), 'raw', 'plots/metrics.svg', 'Metrics per variant');
  bar(bounded(normKeys, 'normalized'), 'normalized', 'plots/metrics_normalized.svg', 'Metrics per variant (normalized)');
  for (const r of runs) {
    const cal = r.details.raw.calibration;
    if (cal === undefined) continue;
    const file = `plots/reliability_${r.run}.svg`;
    writeFileSync(
      join(dir, file),
      reliabilityDiagram(
        `Reliability: ${r.run}`,
        cal.bins.map((b) => ({ ...b, accuracy: b.accuracy ?? Number.NaN, confidence: b.confidence ?? Number.NaN })),
        cal.ece,
      ),
    );
    plots.push(file);
  }

  // Markdown.
  const md: string[] = [`# Evaluation comparison`, '', `Runs: ${names.map((n) => `\`${n}\``).join(', ')}.`, ''];
  const table = (keys: string[], pass: 'raw' | 'normalized'): void => {
    const delta = runs.length > 1;
    md.push(`| metric | ${names.join(' | ')} |${delta ? ` Δ ${names[names.length - 1]} − ${names[0]} |` : ''}`);
    md.push(`|---|${names.map(() => '---:').join('|')}|${delta ? '---:|' : ''}`);
    for (const k of keys) {
      const vals = runs.map((r) => r.metrics[pass]?.[k]);
      const first = vals[0];
      const last = vals[vals.length - 1];
      const d = first !== undefined && last !== undefined ? last - first : undefined;
      md.push(
        `| ${k} | ${vals.map(cell).join(' | ')} |${delta ? ` ${d === undefined || !Number.isFinite(d) ? '—' : (d >= 0 ? '+' : '') + d.toFixed(4)} |` : ''}`,
      );
    }
    md.push('');
  };
  md.push('## Metrics (raw)', '');
  table(rawKeys, 'raw');
  if (normKeys.length > 0) {
    md.push('## Metrics (after the normalisation hook)', '');
    table(normKeys, 'normalized');
  }
  if (withStats) {
    md.push('## Runtime', '', `| | ${names.join(' | ')} |`, `|---|${names.map(() => '---:').join('|')}|`);
    for (const [k, f, show] of RUNTIME_ROWS)
      md.push(
        `| ${k} | ${runs.map((r) => (r.stats === undefined || !Number.isFinite(f(r.stats)) ? '—' : show(f(r.stats)))).join(' | ')} |`,
      );
    md.push('');
  }
  for (const r of runs) {
    const c = r.details.raw.classification;
    if (c === undefined) continue;
    md.push(
      `## Confusion matrix: ${r.run}`,
      '',
      `| true \\ predicted | ${c.labels.join(' | ')} |`,
      `|---|${c.labels.map(() => '---:').join('|')}|`,
    );
    c.labels.forEach((l, i) => md.push(`| ${l} | ${(c.confusion[i] ?? []).join(' | ')} |`));
    md.push('');
  }
  if (plots.length > 0) {
    md.push('## Plots', '');
    for (const p of plots) md.push(`![${p}](${p})`);
    md.push('');
  }
  md.push(
    '## Files',
    '',
    ...runs.map((r) => `- \`${r.run}\`: ${REPORT_FILES.metrics(r.run)}, ${r.predictionsFile} (${r.count} lines)`),
    '',
  );
  const summaryPath = join(dir, REPORT_FILES.summary);
  writeFileSync(summaryPath, md.join('\n'));
  return { summary: summaryPath, table: tablePath, plots: plots.map((p) => join(dir, p)) };
}

/**
 * Recreates `comparison_summary.md`, `comparison_table.csv` and the plots of a report folder
 * from the `metrics_<run>.json` files saved there.
 *
 * @example
 * ```ts
 * rebuildReport('out/eval'); // after editing or deleting a run's metrics file
 * ```
 */
export function rebuildReport(dir: string): ComparisonFiles {
  return writeComparison(dir, readRuns(dir));
}
