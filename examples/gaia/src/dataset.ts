import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssetNotFoundError, Rng } from '@lora/core';
import { type ChatMessage, stratifiedSplit } from '@lora/data';
import { BFCL_CATEGORIES, NO_CALL_ANSWER, loadBfcl, type BfclCategory } from './bfcl.js';
import { callsFromMessage, formatToolCallsText } from './tool-calls.js';
import { readGaiaTraces, type GaiaTool, type GaiaTrace } from './trace.js';

/** How {@link writeGaiaDataset} builds the data folder. */
export interface GaiaDataOptions {
  /**
   * A BFCL folder (`BFCL_v4_<category>.json` + `possible_answer/`) or a `.jsonl` file of your own
   * GAIA-style traces (see `readGaiaTraces`).
   */
  source: string;
  /** BFCL categories to convert (default all six single-turn ones). */
  categories?: readonly BfclCategory[];
  /** `tool_calls` (structured, for templates with tool support) or `text` (`<tool_call>` lines, e.g. stories260K). */
  toolCallStyle: 'tool_calls' | 'text';
  /** Replace the system message by a short one listing `name(arg, optional?)` signatures (tiny models). */
  compact?: boolean;
  /** Keep only traces whose messages total at most this many characters (after compaction). */
  maxChars?: number;
  /** Keep at most this many traces per category (picked with the seed). */
  perCategory?: number;
  /** Seed of the selection and of the split. */
  seed: number;
}

/** What {@link writeGaiaDataset} wrote. */
export interface GaiaDataset {
  train: string;
  validation: string;
  test: string;
  /** `splits.json`: options, counts per split and per category. */
  splits: string;
  counts: Record<'train' | 'validation' | 'test', number>;
}

/** The file paths of a GAIA data folder. */
export function gaiaDatasetFiles(dir: string): Omit<GaiaDataset, 'counts'> {
  return {
    train: join(dir, 'train.jsonl'),
    validation: join(dir, 'validation.jsonl'),
    test: join(dir, 'test.jsonl'),
    splits: join(dir, 'splits.json'),
  };
}

/** True when `dir` already holds the three splits. */
export function hasGaiaDataset(dir: string): boolean {
  const f = gaiaDatasetFiles(dir);
  return existsSync(f.train) && existsSync(f.validation) && existsSync(f.test);
}

/** `name(a, b, c?)` lines: the compact tool list of {@link compactTrace}. */
export function toolSignatures(tools: readonly GaiaTool[]): string {
  return tools
    .map((t) => {
      const params = (t.function.parameters ?? {}) as { properties?: Record<string, unknown>; required?: string[] };
      const required = new Set(params.required ?? []);
      return `${t.function.name}(${Object.keys(params.properties ?? {})
        .map((p) => (required.has(p) ? p : `${p}?`))
        .join(', ')})`;
    })
    .join('\n');
}

/** A trace with its system message replaced by a short call instruction and the tools' signatures. */
export function compactTrace(trace: GaiaTrace): GaiaTrace {
  const system = `Call functions as <tool_call>{"name": ..., "arguments": {...}}</tool_call>, or say "${NO_CALL_ANSWER}"\nFunctions:\n${toolSignatures(trace.tools)}`;
  return { ...trace, messages: [{ role: 'system', content: system }, ...trace.messages.filter((m) => m.role !== 'system')] };
}

/**
 * A trace whose structured calls are written as text, for chat templates without tool support:
 * assistant `tool_calls` become `<tool_call>{…}</tool_call>` lines, `tool` results become user
 * turns `<tool_response>{…}</tool_response>`.
 */
export function textToolCalls(trace: GaiaTrace): GaiaTrace {
  const messages = trace.messages.map((m): ChatMessage => {
    if (m.role === 'assistant' && m.tool_calls !== undefined && m.tool_calls.length > 0) {
      const text = [typeof m.content === 'string' ? m.content.trim() : '', formatToolCallsText(callsFromMessage(m))]
        .filter((s) => s !== '')
        .join('\n');
      return { role: 'assistant', content: text };
    }
    if (m.role === 'tool')
      return {
        role: 'user',
        content: `<tool_response>${typeof m.content === 'string' ? m.content : JSON.stringify(m.content)}</tool_response>`,
      };
    return m;
  });
  return { ...trace, messages };
}

/** The answer a trace trains on, as text: its last assistant message (calls as `<tool_call>` lines). */
export function referenceText(trace: GaiaTrace): string {
  const last = [...trace.messages].reverse().find((m) => m.role === 'assistant');
  if (last === undefined) return NO_CALL_ANSWER;
  const calls = callsFromMessage(last);
  if (calls.length > 0) return formatToolCallsText(calls);
  return typeof last.content === 'string' ? last.content : JSON.stringify(last.content);
}

function size(trace: GaiaTrace): number {
  return trace.messages.reduce(
    (n, m) =>
      n +
      (typeof m.content === 'string' ? m.content.length : JSON.stringify(m.content ?? '').length) +
      JSON.stringify(m.tool_calls ?? '').length,
    0,
  );
}

/**
 * Builds a GAIA data folder: BFCL converted to traces (or your own JSONL read and validated),
 * optionally compacted, filtered by length and subsampled per category, then split 80/10/10
 * stratified by category into `train.jsonl`, `validation.jsonl`, `test.jsonl` (one trace per line:
 * `messages`, `tools`, `gold`, `id`, `category`, `source`) and `splits.json`.
 *
 * @example
 * ```ts
 * writeGaiaDataset('runs/gaia/data', { source: `${process.env.LORA_ASSETS_DIR}/data/bfcl`, toolCallStyle: 'tool_calls', seed: 42 });
 * ```
 */
export function writeGaiaDataset(dir: string, options: GaiaDataOptions): GaiaDataset {
  if (!existsSync(options.source)) {
    throw new AssetNotFoundError({
      asset: options.source,
      searched: [options.source],
      hint: 'give the BFCL folder (LORA_ASSETS_DIR/data/bfcl) or a .jsonl file of traces',
    });
  }
  let traces: GaiaTrace[] = options.source.endsWith('.jsonl')
    ? readGaiaTraces(options.source)
    : loadBfcl(options.source, { categories: options.categories ?? BFCL_CATEGORIES, toolCallStyle: options.toolCallStyle }).traces;
  if (options.toolCallStyle === 'text') traces = traces.map(textToolCalls);
  if (options.compact === true) traces = traces.map(compactTrace);
  if (options.maxChars !== undefined) traces = traces.filter((t) => size(t) <= (options.maxChars as number));
  if (options.perCategory !== undefined) {
    const rng = new Rng(options.seed);
    const byCategory = new Map<string, GaiaTrace[]>();
    for (const t of traces) byCategory.set(t.category, [...(byCategory.get(t.category) ?? []), t]);
    const keep = new Set(
      [...byCategory.values()].flatMap((list) =>
        rng
          .shuffle([...list])
          .slice(0, options.perCategory)
          .map((t) => t.id),
      ),
    );
    traces = traces.filter((t) => keep.has(t.id));
  }
  const { splits, strata } = stratifiedSplit(traces, {
    fractions: { train: 0.8, validation: 0.1, test: 0.1 },
    stratifyBy: (t: GaiaTrace) => t.category,
    seed: options.seed,
  });
  mkdirSync(dir, { recursive: true });
  const files = gaiaDatasetFiles(dir);
  for (const name of ['train', 'validation', 'test'] as const) {
    writeFileSync(files[name], splits[name].map((t) => JSON.stringify(t)).join('\n') + (splits[name].length > 0 ? '\n' : ''));
  }
  const counts = { train: splits.train.length, validation: splits.validation.length, test: splits.test.length };
  const { source, ...settings } = options;
  writeFileSync(files.splits, `${JSON.stringify({ source, ...settings, counts, categories: strata }, null, 2)}\n`);
  return { ...files, counts };
}
