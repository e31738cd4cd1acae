import type { Normalizer } from './normalize.js';
import { canonicalJson, extractJson, type ExtractJsonOptions, type JsonExtraction } from './json.js';

/** A function/tool call reduced to its name and arguments. */
export interface ToolCall {
  name: string;
  arguments: Record<string, unknown>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseArgs(v: unknown): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return {};
  if (typeof v === 'string') {
    try {
      const parsed = JSON.parse(v) as unknown;
      return isRecord(parsed) ? parsed : undefined;
    } catch {
      return undefined;
    }
  }
  return isRecord(v) ? v : undefined;
}

/**
 * Reads a tool call from the shapes models and datasets use: `{name, arguments}`,
 * `{name, args}`, `{name, parameters}`, OpenAI's `{function: {name, arguments: "<json>"}}`, or
 * `{tool, tool_input}`. Returns undefined when `value` is none of them.
 */
export function toToolCall(value: unknown): ToolCall | undefined {
  if (!isRecord(value)) return undefined;
  if (isRecord(value.function) && typeof value.function.name === 'string') return toToolCall(value.function);
  const name = value.name ?? value.tool ?? value.function;
  if (typeof name !== 'string') return undefined;
  const args = parseArgs(value.arguments ?? value.args ?? value.parameters ?? value.tool_input);
  return args === undefined ? undefined : { name, arguments: args };
}

/** The calls in a value: one call, an array of calls, or `{tool_calls: [...]}`. */
export function toToolCalls(value: unknown): ToolCall[] | undefined {
  const list = isRecord(value) && Array.isArray(value.tool_calls) ? value.tool_calls : Array.isArray(value) ? value : [value];
  const calls = list.map(toToolCall);
  return calls.every((c) => c !== undefined) ? (calls as ToolCall[]) : undefined;
}

/**
 * Canonical text used for exact match: the calls' names and arguments when `value` holds tool
 * calls (other keys such as ids are ignored), else the canonical JSON of the whole value.
 */
export function canonicalCall(value: unknown): string {
  const calls = toToolCalls(value);
  if (calls === undefined) return canonicalJson(value);
  return canonicalJson(calls.length === 1 ? calls[0] : calls);
}

/** Parses a reference that may be a JSON string or an already-parsed value. */
export function referenceValue(reference: unknown): unknown {
  if (typeof reference !== 'string') return reference;
  try {
    return JSON.parse(reference) as unknown;
  } catch {
    return reference;
  }
}

/** Options shared by the JSON-output metrics. */
export interface JsonMetricOptions extends ExtractJsonOptions {
  /** How JSON is extracted from the prediction text. Default `lenient`. */
  extraction?: JsonExtraction;
  /** Applied to the extracted prediction value and to the reference before comparing. */
  normalize?: Normalizer;
}

/**
 * 1 when the prediction's JSON (extracted from text) equals the reference after
 * canonicalisation ({@link canonicalCall}): key order, whitespace and number spelling do not
 * matter; 0 otherwise (including unparsable output).
 */
export function jsonExactMatch(prediction: string, reference: unknown, options: JsonMetricOptions = {}): number {
  const got = extractJson(prediction, options.extraction ?? 'lenient', options);
  if (!got.ok) return 0;
  const n = options.normalize ?? ((v: unknown) => v);
  return canonicalCall(n(got.value)) === canonicalCall(n(referenceValue(reference))) ? 1 : 0;
}

/** Slots (`path` → canonical value) of a value's tool-call arguments (or of the whole object). */
export function slotsOf(value: unknown): Map<string, string> {
  const slots = new Map<string, string>();
  const calls = toToolCalls(value);
  const walk = (v: unknown, path: string): void => {
    if (isRecord(v) && Object.keys(v).length > 0) {
      for (const [k, x] of Object.entries(v)) walk(x, path === '' ? k : `${path}.${k}`);
    } else if (path !== '') {
      slots.set(path, canonicalJson(v));
    }
  };
  if (calls === undefined) walk(value, '');
  else for (const c of calls) walk(c.arguments, calls.length > 1 ? c.name : '');
  return slots;
}

/** Precision, recall and F1 of one group of counts. */
export interface Prf {
  precision: number;
  recall: number;
  f1: number;
}

/** Precision/recall/F1 from counts; 0 where a denominator is 0 (scikit-learn's `zero_division=0`). */
export function prf(tp: number, predicted: number, actual: number): Prf {
  const precision = predicted === 0 ? 0 : tp / predicted;
  const recall = actual === 0 ? 0 : tp / actual;
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { precision, recall, f1 };
}

/** Result of `slotF1`. */
export interface SlotF1Report {
  /** Over all slot key-values pooled. */
  micro: Prf;
  /** Unweighted mean over slot names of each name's precision/recall/F1. */
  macro: Prf;
  /** Per slot name: counts and scores. */
  perSlot: Record<string, Prf & { tp: number; predicted: number; actual: number }>;
  count: number;
}

/**
 * Slot micro- and macro-F1 over argument key-values: a predicted slot is a true positive when the
 * reference has the same key path with the same canonical value. Unparsable predictions count as
 * predicting no slots.
 */
export function slotF1(pairs: readonly { prediction: string; reference: unknown }[], options: JsonMetricOptions = {}): SlotF1Report {
  const counts = new Map<string, { tp: number; predicted: number; actual: number }>();
  const bump = (k: string, field: 'tp' | 'predicted' | 'actual'): void => {
    const c = counts.get(k) ?? { tp: 0, predicted: 0, actual: 0 };
    c[field]++;
    counts.set(k, c);
  };
  for (const { prediction, reference } of pairs) {
    const got = extractJson(prediction, options.extraction ?? 'lenient', options);
    const n = options.normalize ?? ((v: unknown) => v);
    const predicted = got.ok ? slotsOf(n(got.value)) : new Map<string, string>();
    const actual = slotsOf(n(referenceValue(reference)));
    for (const [k, v] of predicted) {
      bump(k, 'predicted');
      if (actual.get(k) === v) bump(k, 'tp');
    }
    for (const k of actual.keys()) bump(k, 'actual');
  }
  let tp = 0;
  let predicted = 0;
  let actual = 0;
  const perSlot: SlotF1Report['perSlot'] = {};
  for (const [k, c] of [...counts].sort(([a], [b]) => (a < b ? -1 : 1))) {
    tp += c.tp;
    predicted += c.predicted;
    actual += c.actual;
    perSlot[k] = { ...c, ...prf(c.tp, c.predicted, c.actual) };
  }
  const names = Object.values(perSlot);
  const mean = (f: (x: Prf) => number): number => (names.length === 0 ? 0 : names.reduce((a, x) => a + f(x), 0) / names.length);
  return {
    micro: prf(tp, predicted, actual),
    macro: { precision: mean((x) => x.precision), recall: mean((x) => x.recall), f1: mean((x) => x.f1) },
    perSlot,
    count: pairs.length,
  };
}
