import { InvalidArgumentError } from '@lora/core';
import { type CausalLM, type TextTokenizer, defaultStopTokenIds, generate, scoreContinuations } from '@lora/models';
import type { FinishReason } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';
import { type PredictionRecord, PredictionWriter, readPredictions } from './predictions.js';
import { summarizeLatency } from './stats.js';
import type { TestExample } from './test-set.js';

/** Sampling and stopping settings of a generation run. */
export interface GenerationSettings {
  /** Maximum new tokens per example. Default 128. */
  maxNewTokens?: number;
  /** 0 (default) is greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** Sampler seed. Default 0. */
  seed?: number;
  /**
   * Token ids that end an example; default the model's stop ids (`defaultStopTokenIds`:
   * generation_config.json / config.json / a GGUF file's EOS and end-of-turn ids) and the
   * tokenizer's EOS ids. `[]` generates to `maxNewTokens`.
   */
  stopTokenIds?: readonly number[];
  /** Strings that end an example; the prediction is cut before the first one (lm-evaluation-harness' `until`). */
  stop?: readonly string[];
  /** Stop tokens are suppressed before this many new tokens. */
  minNewTokens?: number;
}

/** Progress of a run, reported after every batch. */
export interface GenerationProgress {
  /** Examples with a prediction on disk (resumed + new). */
  done: number;
  total: number;
  /** Examples found already in the predictions file at the start. */
  resumed: number;
  elapsedMs: number;
  /** Ids of the batch just written. */
  ids: string[];
}

/** Options of {@link runGeneration}. */
export interface RunGenerationOptions extends GenerationSettings {
  model: CausalLM;
  tokenizer: TextTokenizer;
  examples: readonly TestExample[];
  /** Predictions JSONL; appended to and resumed from (ids already there are skipped). */
  outFile: string;
  /** Examples per forward batch. Default 8. */
  batchSize?: number;
  /** Turns an example into prompt text; default its `prompt`. Needed for `messages` examples (e.g. a chat template). */
  formatPrompt?: (example: TestExample) => string;
  /**
   * true: make every prompt start with BOS; false: add no special tokens. Default: the tokenizer's
   * rule, except for examples marked `addSpecialTokens: false` (chat-template renders).
   */
  addBos?: boolean;
  /** Also score each output and store `confidence` = exp(sum of its token log-probs). Default false. */
  confidence?: boolean;
  /** Name stored in each line's `variant` field. */
  variant?: string;
  onProgress?: (progress: GenerationProgress) => void;
}

/**
 * What a run measured over the examples generated in this call (not the resumed ones);
 * `evaluateVariants` recomputes `latencyMs` over every saved line.
 */
export interface GenerationStats {
  total: number;
  generated: number;
  resumed: number;
  /** Per-example latency in ms (batch start to the example's last token): mean, median, 95th percentile and count. */
  latencyMs: {
    mean: number;
    p50: number;
    p95: number;
    count: number;
  };
  /** New tokens per second of generation wall time. */
  tokensPerSecond: number;
  newTokens: number;
  wallMs: number;
  /** Largest `tf.memory().numBytes` sampled during generation (once per decode step). */
  peakTensorBytes: number;
}

/** Cuts `text` before the first stop string; returns undefined when none occurs. */
function cutAtStop(text: string, stops: readonly string[]): string | undefined {
  let cut: number | undefined;
  for (const s of stops) {
    const at = text.indexOf(s);
    if (at >= 0 && (cut === undefined || at < cut)) cut = at;
  }
  return cut === undefined ? undefined : text.slice(0, cut);
}

/**
 * Generates a prediction for every example not yet in `outFile`, in batches, and appends one
 * JSON line per example after each batch (fsynced: a crash loses nothing, a rerun resumes).
 * Measures per-example latency, tokens/s and peak tensor memory.
 *
 * @example
 * ```ts
 * const stats = await runGeneration({ model, tokenizer, examples, outFile: 'out/predictions_base.jsonl', maxNewTokens: 64, stop: ['\n\n'] });
 * console.log(stats.latencyMs.p95, stats.tokensPerSecond);
 * ```
 */
export async function runGeneration(options: RunGenerationOptions): Promise<GenerationStats> {
  const { model, tokenizer, examples } = options;
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new InvalidArgumentError({ argument: 'batchSize', message: `must be a positive integer, got ${batchSize}.` });
  const format =
    options.formatPrompt ??
    ((e: TestExample): string => {
      if (e.prompt !== undefined) return e.prompt;
      throw new InvalidArgumentError({
        argument: 'formatPrompt',
        message: `example "${e.id}" has chat \`messages\` but no \`prompt\`: pass formatPrompt (e.g. a chat template render).`,
      });
    });
  const existing = new Set(readPredictions(options.outFile).map((r) => r.id));
  const todo = examples.filter((e) => !existing.has(e.id));
  const resumed = examples.length - todo.length;
  const stops = options.stop ?? [];
  const stopTokenIds = options.stopTokenIds ?? [...new Set([...defaultStopTokenIds(model.config), ...tokenizer.eosTokenIds])];
  const latencies: number[] = [];
  let newTokens = 0;
  let genMs = 0;
  let peak = tf.memory().numBytes;
  const started = performance.now();
  const writer = new PredictionWriter(options.outFile);
  try {
    for (let start = 0; start < todo.length; start += batchSize) {
      const batch = todo.slice(start, start + batchSize);
      const prompts = batch.map(format);
      const ids = prompts.map((p, i) => tokenizer.encode(p, promptEncodeOptions(batch[i] as TestExample, options.addBos)));
      const finishedAt = batch.map(() => 0);
      const stoppedByString = batch.map(() => false);
      const t0 = performance.now();
      const out = await generate(model, ids, {
        maxNewTokens: options.maxNewTokens ?? 128,
        temperature: options.temperature ?? 0,
        ...(options.topK === undefined ? {} : { topK: options.topK }),
        ...(options.topP === undefined ? {} : { topP: options.topP }),
        seed: options.seed ?? 0,
        stopTokenIds,
        ...(options.minNewTokens === undefined ? {} : { minNewTokens: options.minNewTokens }),
        ...(tokenizer.bosTokenId === undefined ? {} : { padTokenId: tokenizer.bosTokenId }),
        ...(stops.length === 0
          ? {}
          : {
              stop: (tokens: readonly number[], row: number): boolean => {
                const hit = cutAtStop(tokenizer.decode(tokens), stops) !== undefined;
                if (hit) stoppedByString[row] = true;
                return hit;
              },
            }),
        onToken: (_token, row) => {
          finishedAt[row] = performance.now() - t0;
          if (row === 0) peak = Math.max(peak, tf.memory().numBytes);
        },
      });
      const batchMs = performance.now() - t0;
      genMs += batchMs;
      peak = Math.max(peak, tf.memory().numBytes);
      let confidences: number[] | undefined;
      if (options.confidence === true) {
        const requests = out.sequences.map((seq, i) => {
          const body = seq.length > 0 && stopTokenIds.includes(seq[seq.length - 1] as number) ? seq.slice(0, -1) : seq;
          return { prompt: ids[i] as number[], continuation: body };
        });
        const scorable = requests.map((r, i) => ({ r, i })).filter((x) => x.r.continuation.length > 0);
        const scores =
          scorable.length === 0
            ? []
            : await scoreContinuations(
                model,
                scorable.map((x) => x.r),
                { batchSize },
              );
        confidences = requests.map(() => 1);
        scorable.forEach((x, k) => ((confidences as number[])[x.i] = Math.exp(scores[k]?.sum ?? 0)));
      }
      const records: PredictionRecord[] = batch.map((e, i) => {
        const seq = out.sequences[i] ?? [];
        const text = tokenizer.decode(seq);
        const prediction = cutAtStop(text, stops) ?? text;
        const finishReason: FinishReason = out.finishReasons[i] ?? 'length';
        newTokens += seq.length;
        latencies.push(finishedAt[i] ?? batchMs);
        const record: PredictionRecord = {
          id: e.id,
          prompt: prompts[i] as string,
          prediction,
          ...(e.reference === undefined ? {} : { reference: e.reference }),
          ...(options.variant === undefined ? {} : { variant: options.variant }),
          latencyMs: Math.round((finishedAt[i] ?? batchMs) * 1000) / 1000,
          promptTokens: (ids[i] as number[]).length,
          newTokens: seq.length,
          finishReason,
        };
        if (confidences !== undefined) record.confidence = confidences[i] as number;
        return record;
      });
      writer.append(records);
      options.onProgress?.({
        done: resumed + start + batch.length,
        total: examples.length,
        resumed,
        elapsedMs: performance.now() - started,
        ids: batch.map((e) => e.id),
      });
    }
  } finally {
    writer.close();
  }
  return {
    total: examples.length,
    generated: todo.length,
    resumed,
    latencyMs: summarizeLatency(latencies),
    tokensPerSecond: genMs === 0 ? 0 : newTokens / (genMs / 1000),
    newTokens,
    wallMs: performance.now() - started,
    peakTensorBytes: peak,
  };
}

/**
 * How a prompt is encoded: an explicit `addBos` wins (recipes pin BOS this way); else a prompt a
 * chat template rendered (`addSpecialTokens: false`) gets no added special tokens, as
 * `apply_chat_template` does; else the tokenizer's rule (its post-processor / `add_bos_token`).
 * @internal
 */
export function promptEncodeOptions(example: TestExample, addBos: boolean | undefined): { addBos?: boolean; addSpecialTokens?: boolean } {
  if (addBos !== undefined) return { addBos };
  if (example.addSpecialTokens === false) return { addSpecialTokens: false };
  return {};
}
