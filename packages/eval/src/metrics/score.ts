import { InvalidArgumentError } from '@lora/core';
import { expectedCalibrationError, type CalibrationReport } from './calibration.js';
import { classificationMetrics, type ClassificationReport } from './classification.js';
import { gsm8kScore } from './gsm8k.js';
import { extractJson, jsonValidRate } from './json.js';
import type { Normalizer } from './normalize.js';
import { schemaValidRate, type OutputSchema } from './schema-valid.js';
import { setExactMatch } from './set-match.js';
import { jsonExactMatch, referenceValue, slotF1, type SlotF1Report } from './tool-call.js';

/** What a metric reads from a prediction line (the JSONL the runner writes). */
export interface ScoredRecord {
  id: string;
  prediction: string;
  reference?: unknown;
  /** Model confidence in its prediction, in [0, 1] (for calibration). */
  confidence?: number;
}

/** Options of the JSON-output metrics. */
export interface JsonSpecOptions {
  extraction?: 'strict' | 'lenient';
  /** Tag to look inside in lenient mode, e.g. `'ACTION'`. */
  tag?: string;
}

/** A metric to compute over a run's predictions. */
export type MetricSpec =
  | { kind: 'exact_match'; ignoreCase?: boolean }
  | ({ kind: 'json_exact_match' } & JsonSpecOptions)
  | ({ kind: 'slot_f1' } & JsonSpecOptions)
  | { kind: 'json_valid'; tag?: string }
  | ({ kind: 'schema_valid'; schema: OutputSchema } & JsonSpecOptions)
  | { kind: 'classification'; labels?: readonly string[]; positive?: string; extractLabel?: (prediction: string) => string }
  | { kind: 'set_match'; extractSet?: (prediction: string) => string[] }
  | { kind: 'gsm8k' }
  | {
      kind: 'calibration';
      correct: 'exact_match' | 'json_exact_match' | 'classification' | 'gsm8k_flexible' | 'gsm8k_strict';
      bins?: number;
      labels?: readonly string[];
    };

/** Names of the metric kinds, for configs and the CLI. */
export const METRIC_KINDS = [
  'exact_match',
  'json_exact_match',
  'slot_f1',
  'json_valid',
  'schema_valid',
  'classification',
  'set_match',
  'gsm8k',
  'calibration',
] as const satisfies readonly MetricSpec['kind'][];

/** Flat metric values of one scoring pass, e.g. `{ 'slot_f1.micro': 0.8, 'json_valid.strict': 1 }`. */
export type MetricValues = Record<string, number>;

/** Structured results that do not fit a flat number (confusion matrices, bins, per-slot tables). */
export interface MetricDetails {
  classification?: ClassificationReport;
  slotF1?: SlotF1Report;
  calibration?: CalibrationReport;
  /** Per-id correctness for the metrics that have one (exact matches, GSM8K). */
  perExample?: Record<string, Record<string, number | string>>;
}

/** Result of {@link scorePredictions}. */
export interface ScoreReport {
  /** Metrics on the raw predictions and references. */
  raw: Record<string, number>;
  /** Metrics after the normalisation hook (absent when no hook is given). */
  normalized?: Record<string, number>;
  details: { raw: MetricDetails; normalized?: MetricDetails };
  count: number;
}

function words(s: string): string {
  return s.trim().toLowerCase();
}

/** Default label reader: the earliest known label in the text (case-insensitive), else the first line. */
export function defaultLabel(prediction: string, labels?: readonly string[]): string {
  if (labels !== undefined && labels.length > 0) {
    const lower = prediction.toLowerCase();
    let best: { at: number; label: string } | undefined;
    for (const l of labels) {
      const m = new RegExp(`(^|[^\\p{L}\\p{N}_])${l.toLowerCase().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\p{L}\\p{N}_])`, 'u').exec(
        lower,
      );
      if (m !== null && (best === undefined || m.index < best.at)) best = { at: m.index, label: l };
    }
    if (best !== undefined) return best.label;
  }
  return (prediction.trim().split('\n')[0] ?? '').trim();
}

/** Default set reader: a JSON array of strings (lenient), else comma/newline-separated items. */
export function defaultSet(prediction: string): string[] {
  const got = extractJson(prediction, 'lenient');
  if (got.ok && Array.isArray(got.value)) return got.value.map(String);
  return prediction
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function refText(reference: unknown): string {
  return typeof reference === 'string' ? reference : JSON.stringify(reference);
}

function asSet(reference: unknown): string[] {
  const v = referenceValue(reference);
  if (Array.isArray(v)) return v.map(String);
  return typeof v === 'string' ? defaultSet(v) : [];
}

function scorePass(
  records: readonly ScoredRecord[],
  specs: readonly MetricSpec[],
  normalize: Normalizer | undefined,
): { values: MetricValues; details: MetricDetails } {
  const values: MetricValues = {};
  const details: MetricDetails = { perExample: {} };
  const per = details.perExample as Record<string, Record<string, number | string>>;
  const mark = (id: string, key: string, v: number | string): void => {
    per[id] = { ...(per[id] ?? {}), [key]: v };
  };
  const withRef = records.filter((r) => r.reference !== undefined);
  const text = (s: string): string => {
    const n = normalize?.(s);
    return typeof n === 'string' ? n : s;
  };
  const json = normalize === undefined ? {} : { normalize };
  const labelOf = (spec: { extractLabel?: (p: string) => string; labels?: readonly string[] }, p: string): string => {
    return text(spec.extractLabel?.(p) ?? defaultLabel(p, spec.labels));
  };
  const correctness = (kind: string, r: ScoredRecord, labels?: readonly string[]): boolean => {
    if (kind === 'exact_match') return words(text(r.prediction)) === words(text(refText(r.reference)));
    if (kind === 'json_exact_match') return jsonExactMatch(r.prediction, r.reference, json) === 1;
    if (kind === 'classification')
      return labelOf({ ...(labels === undefined ? {} : { labels }) }, r.prediction) === text(refText(r.reference));
    const g = gsm8kScore(text(r.prediction), refText(r.reference));
    return (kind === 'gsm8k_strict' ? g.strictMatch : g.flexibleMatch) === 1;
  };
  for (const spec of specs) {
    switch (spec.kind) {
      case 'exact_match': {
        const norm = (s: string): string => (spec.ignoreCase === true ? words(s) : s.trim());
        let hit = 0;
        for (const r of withRef) {
          const ok = norm(text(r.prediction)) === norm(text(refText(r.reference))) ? 1 : 0;
          hit += ok;
          mark(r.id, 'exact_match', ok);
        }
        values.exact_match = withRef.length === 0 ? 0 : hit / withRef.length;
        break;
      }
      case 'json_exact_match': {
        let hit = 0;
        for (const r of withRef) {
          const ok = jsonExactMatch(r.prediction, r.reference, { ...spec, ...json });
          hit += ok;
          mark(r.id, 'json_exact_match', ok);
        }
        values.json_exact_match = withRef.length === 0 ? 0 : hit / withRef.length;
        break;
      }
      case 'slot_f1': {
        const report = slotF1(
          withRef.map((r) => ({ prediction: r.prediction, reference: r.reference })),
          { ...spec, ...json },
        );
        details.slotF1 = report;
        values['slot_f1.micro'] = report.micro.f1;
        values['slot_f1.macro'] = report.macro.f1;
        values['slot_f1.micro_precision'] = report.micro.precision;
        values['slot_f1.micro_recall'] = report.micro.recall;
        break;
      }
      case 'json_valid': {
        const report = jsonValidRate(
          records.map((r) => r.prediction),
          spec.tag === undefined ? {} : { tag: spec.tag },
        );
        values['json_valid.strict'] = report.strict;
        values['json_valid.lenient'] = report.lenient;
        break;
      }
      case 'schema_valid': {
        values.schema_valid = schemaValidRate(
          records.map((r) => r.prediction),
          spec.schema,
          { ...spec, ...json },
        ).rate;
        break;
      }
      case 'classification': {
        const truth = withRef.map((r) => text(refText(r.reference)));
        const predicted = withRef.map((r) => labelOf(spec, r.prediction));
        const report = classificationMetrics(truth, predicted, spec);
        details.classification = report;
        values['classification.accuracy'] = report.accuracy;
        values['classification.macro_f1'] = report.macro.f1;
        values['classification.weighted_f1'] = report.weighted.f1;
        if (report.positive !== undefined) {
          values[`classification.recall[${report.positive.label}]`] = report.positive.recall;
          values[`classification.fnr[${report.positive.label}]`] = report.positive.falseNegativeRate;
        }
        withRef.forEach((r, i) => mark(r.id, 'label', predicted[i] as string));
        break;
      }
      case 'set_match': {
        const read = spec.extractSet ?? defaultSet;
        const mapSet = (xs: string[]): string[] => xs.map(text);
        const report = setExactMatch(
          withRef.map((r) => mapSet(read(r.prediction))),
          withRef.map((r) => mapSet(asSet(r.reference))),
        );
        values['set_match.exact'] = report.exactMatch;
        values['set_match.jaccard'] = report.jaccard;
        values['set_match.micro_f1'] = report.micro.f1;
        break;
      }
      case 'gsm8k': {
        let s = 0;
        let f = 0;
        for (const r of withRef) {
          const g = gsm8kScore(text(r.prediction), refText(r.reference));
          s += g.strictMatch;
          f += g.flexibleMatch;
          mark(r.id, 'gsm8k.strict', g.strict);
          mark(r.id, 'gsm8k.flexible', g.flexible);
        }
        values['gsm8k.strict_match'] = withRef.length === 0 ? 0 : s / withRef.length;
        values['gsm8k.flexible_extract'] = withRef.length === 0 ? 0 : f / withRef.length;
        break;
      }
      case 'calibration': {
        const usable = withRef.filter((r) => r.confidence !== undefined);
        if (usable.length === 0) break;
        const report = expectedCalibrationError(
          usable.map((r) => r.confidence as number),
          usable.map((r) => correctness(spec.correct, r, spec.labels)),
          spec.bins ?? 10,
        );
        details.calibration = report;
        values.ece = report.ece;
        break;
      }
      default: {
        const never: never = spec;
        throw new InvalidArgumentError({
          argument: 'metrics',
          message: `unknown metric ${JSON.stringify(never)}; use one of ${METRIC_KINDS.join(', ')}.`,
        });
      }
    }
  }
  return { values, details };
}

/**
 * Computes `specs` over prediction records, once on the raw text and, when `normalize` is given,
 * once more with the hook applied before scoring: to JSON values extracted from predictions and
 * to references for the JSON metrics, to the extracted labels / set items / text otherwise.
 * JSON validity is a property of the raw text and is the same in both passes.
 *
 * @example
 * ```ts
 * const r = scorePredictions(lines, [{ kind: 'json_exact_match' }, { kind: 'slot_f1' }], { normalize: aliasNormalizer({ temp: 'temperature' }) });
 * r.raw.json_exact_match; r.normalized?.json_exact_match;
 * ```
 */
export function scorePredictions(
  records: readonly ScoredRecord[],
  specs: readonly MetricSpec[],
  options: { normalize?: (value: unknown) => unknown } = {},
): ScoreReport {
  const raw = scorePass(records, specs, undefined);
  const report: ScoreReport = { raw: raw.values, details: { raw: raw.details }, count: records.length };
  if (options.normalize !== undefined) {
    const normalized = scorePass(records, specs, options.normalize);
    report.normalized = normalized.values;
    report.details.normalized = normalized.details;
  }
  return report;
}
