import { InvalidArgumentError } from '@lora/core';
import { prf, type Prf } from './tool-call.js';

/** Result of `classificationMetrics`. */
export interface ClassificationReport {
  accuracy: number;
  /** Label order of the confusion matrix and the per-class table. */
  labels: string[];
  /** Per-class scores as scikit-learn's `classification_report` gives them (`support`: true instances of the class). */
  perClass: Record<string, Prf & { support: number }>;
  /** Unweighted mean over labels. */
  macro: Prf;
  /** Mean weighted by support. */
  weighted: Prf;
  /** `confusion[i][j]`: true label `labels[i]` predicted as `labels[j]` (scikit-learn's layout). */
  confusion: number[][];
  /** Recall of `ClassificationOptions.positive` and its false-negative rate (1 − recall). */
  positive?: { label: string; recall: number; falseNegativeRate: number; support: number };
  count: number;
}

/** Options of `classificationMetrics`. */
export interface ClassificationOptions {
  /** Label order; default: the sorted union of true and predicted labels (scikit-learn's default). */
  labels?: readonly string[];
  /** Class whose recall and false-negative rate are reported, e.g. `'DENY'` or `'unsafe'`. */
  positive?: string;
}

/**
 * Accuracy, per-class precision/recall/F1, macro and weighted averages and the confusion matrix,
 * with scikit-learn's conventions (`zero_division=0`). Predictions outside `labels` count as
 * wrong but do not get a row.
 *
 * @example
 * ```ts
 * const r = classificationMetrics(['ALLOW', 'DENY'], ['DENY', 'DENY'], { positive: 'DENY' });
 * r.positive?.recall; // 0.5
 * ```
 */
export function classificationMetrics(
  truth: readonly string[],
  predicted: readonly string[],
  options: ClassificationOptions = {},
): ClassificationReport {
  if (truth.length !== predicted.length) {
    throw new InvalidArgumentError({ argument: 'predicted', message: `has ${predicted.length} labels but truth has ${truth.length}.` });
  }
  const labels = options.labels !== undefined ? [...options.labels] : [...new Set([...truth, ...predicted])].sort();
  const index = new Map(labels.map((l, i) => [l, i]));
  const confusion = labels.map(() => labels.map(() => 0));
  let correct = 0;
  truth.forEach((t, k) => {
    const p = predicted[k] as string;
    if (t === p) correct++;
    const i = index.get(t);
    const j = index.get(p);
    if (i === undefined || j === undefined) return;
    const row = confusion[i] as number[];
    row[j] = (row[j] ?? 0) + 1;
  });
  const perClass: Record<string, ClassScores> = {};
  labels.forEach((l) => {
    const tp = truth.filter((t, k) => t === l && predicted[k] === l).length;
    const predictedCount = predicted.filter((p) => p === l).length;
    const support = truth.filter((t) => t === l).length;
    perClass[l] = { ...prf(tp, predictedCount, support), support };
  });
  const rows = labels.map((l) => perClass[l] as ClassScores);
  const total = rows.reduce((a, r) => a + r.support, 0);
  const avg = (weight: (r: ClassScores) => number, denom: number): Prf => ({
    precision: denom === 0 ? 0 : rows.reduce((a, r) => a + weight(r) * r.precision, 0) / denom,
    recall: denom === 0 ? 0 : rows.reduce((a, r) => a + weight(r) * r.recall, 0) / denom,
    f1: denom === 0 ? 0 : rows.reduce((a, r) => a + weight(r) * r.f1, 0) / denom,
  });
  const report: ClassificationReport = {
    accuracy: truth.length === 0 ? 0 : correct / truth.length,
    labels,
    perClass,
    macro: avg(() => 1, rows.length),
    weighted: avg((r) => r.support, total),
    confusion,
    count: truth.length,
  };
  if (options.positive !== undefined) {
    const support = truth.filter((t) => t === options.positive).length;
    const tp = truth.filter((t, k) => t === options.positive && predicted[k] === options.positive).length;
    const recall = support === 0 ? 0 : tp / support;
    report.positive = { label: options.positive, recall, falseNegativeRate: support === 0 ? 0 : 1 - recall, support };
  }
  return report;
}

/** Per-class scores as scikit-learn's `classification_report` gives them. */
export type ClassScores = ClassificationReport['perClass'][string];
