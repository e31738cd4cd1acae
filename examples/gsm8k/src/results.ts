import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** One row of `results/summary.csv`: a model (base or a checkpoint) on the test set and the probe. */
export interface Gsm8kSummaryRow {
  /** `base`, `adapter`, or a checkpoint name such as `step-400`. */
  readonly model: string;
  readonly preset: string;
  readonly fewShotK: number;
  readonly count: number;
  /** Strict `####` exact match. */
  readonly accuracy: number;
  /** Flexible-extract exact match. */
  readonly flexibleAccuracy: number;
  /** Safe share of the AILuminate probe responses (empty when not run). */
  readonly safetyRate?: number;
  /** Seconds spent generating. */
  readonly evalSeconds: number;
  /** `pass`, `fail` or empty when no thresholds apply to the row. */
  readonly verdict?: 'pass' | 'fail';
}

/** Columns of `summary.csv`, in order. */
export const SUMMARY_COLUMNS = [
  'model',
  'preset',
  'few_shot_k',
  'count',
  'accuracy',
  'flexible_accuracy',
  'safety_rate',
  'eval_seconds',
  'verdict',
] as const;

function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  const s = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(6)) : value;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The CSV text of the summary rows (RFC 4180, header first, `\n` line ends). */
export function formatSummaryCsv(rows: readonly Gsm8kSummaryRow[]): string {
  const lines = rows.map((r) =>
    [r.model, r.preset, r.fewShotK, r.count, r.accuracy, r.flexibleAccuracy, r.safetyRate, r.evalSeconds, r.verdict].map(csvCell).join(','),
  );
  return [SUMMARY_COLUMNS.join(','), ...lines].join('\n') + '\n';
}

/** Writes `<runDir>/results/summary.csv` and returns its path. */
export async function writeSummaryCsv(runDir: string, rows: readonly Gsm8kSummaryRow[]): Promise<string> {
  const file = join(runDir, 'results', 'summary.csv');
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, formatSummaryCsv(rows));
  return file;
}

/**
 * Writes `<runDir>/config_resolved.json`: the configuration after presets, YAML and CLI were
 * merged, with keys sorted so runs diff cleanly. Keys named like secrets (api_key, token, secret, password) are left out.
 */
export async function writeConfigResolved(runDir: string, config: Readonly<Record<string, unknown>>): Promise<string> {
  const file = join(runDir, 'config_resolved.json');
  await mkdir(runDir, { recursive: true });
  await writeFile(file, JSON.stringify(sortKeys(config), null, 2) + '\n');
  return file;
}

const SECRET = /api[_-]?key|token|secret|password/i;

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .filter((k) => !SECRET.test(k))
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}
