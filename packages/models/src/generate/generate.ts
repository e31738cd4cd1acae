import { InvalidArgumentError, Rng } from '@lora/core';
import * as tf from '@tensorflow/tfjs';
import type { CausalLM } from '../architectures/causal-lm.js';
import { defaultStopTokenIds } from '../config/generation-config.js';
import { type SamplingOptions, sampleToken } from './sample.js';

/** Options of {@link generate}. */
export interface GenerateOptions extends SamplingOptions {
  /** Maximum number of new tokens per sequence. */
  maxNewTokens: number;
  /**
   * Generation stops for a row when it produces one of these (included in the output). Default:
   * the model's end-of-sequence ids (`defaultStopTokenIds(model.config)`: `generation_config.json`,
   * else `config.json`; for GGUF the EOS and end-of-turn ids), as transformers does, plus the EOS
   * ids of `tokenizer` when given. `[]` turns stopping on tokens off (the opt-out).
   */
  stopTokenIds?: readonly number[];
  /**
   * The tokenizer the prompt was encoded with: its `eosTokenIds` (e.g. SmolLM2's `<|im_end|>`,
   * Llama 3's `<|eot_id|>`) join the default stop ids, as transformers' `generate` stops on the
   * tokenizer's EOS when `generation_config` lacks it. Ignored when `stopTokenIds` is given.
   */
  tokenizer?: { readonly eosTokenIds: readonly number[] };
  /** Stop tokens are suppressed until a row has this many new tokens (transformers' `min_new_tokens`). */
  minNewTokens?: number;
  /** Custom stop criterion over the new tokens of a row (e.g. a decoded stop string). */
  stop?: (tokens: readonly number[], row: number) => boolean;
  /** Seed of the sampler (ignored when greedy). Default 0. */
  seed?: number;
  /** Id used to left-pad shorter prompts (masked, never attended). Default 0. */
  padTokenId?: number;
  /** Called with each new token as it is produced (streaming). */
  onToken?: (token: number, row: number) => void;
  /**
   * Modifies one row's next-token logits in place before sampling (transformers'
   * `LogitsProcessor`): e.g. set `-Infinity` on tokens a grammar forbids, so greedy decoding picks
   * the arg-max among the allowed ones. `tokens` are the row's new tokens so far (the prompt is
   * not included; the array grows as generation goes on, copy it to keep it). Runs after the
   * `minNewTokens` suppression; a row whose logits are all `-Infinity` picks token 0.
   */
  processLogits?: (logits: Float32Array, tokens: readonly number[], row: number) => void;
}

/**
 * Autoregressive generation with a KV cache, for a batch of prompts (token ids). Prompts of
 * different lengths are left-padded and masked; each row gets positions 0.. of its own tokens,
 * as transformers' `generate` does. Greedy by default; temperature / top-k / top-p sampling is
 * seeded. A row stops at the model's end-of-sequence / end-of-turn tokens unless `stopTokenIds`
 * says otherwise (`[]`: run to `maxNewTokens`); a stopped row leaves the batch, so the rows still
 * running are all that later steps compute.
 *
 * @example
 * ```ts
 * const { sequences } = await generate(model, [[1]], { maxNewTokens: 50 }); // stops at the model's EOS
 * const full = await generate(model, [[1]], { maxNewTokens: 50, stopTokenIds: [] }); // never stops early
 * ```
 */
export async function generate(
  model: CausalLM,
  prompts: readonly (readonly number[])[],
  options: GenerateOptions,
): Promise<{
  /** New tokens per row (a stop token that ended the row is included). */
  sequences: number[][];
  /** Why each row stopped: a stop token (`stop`) or `maxNewTokens` (`length`). */
  finishReasons: ('stop' | 'length')[];
}> {
  if (prompts.length === 0) throw new InvalidArgumentError({ argument: 'prompts', message: 'at least one prompt is required.' });
  prompts.forEach((p, i) => {
    if (p.length === 0) {
      throw new InvalidArgumentError({ argument: `prompts[${i}]`, message: 'a prompt needs at least one token (e.g. BOS).' });
    }
  });
  if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 0) {
    throw new InvalidArgumentError({ argument: 'maxNewTokens', message: `must be a non-negative integer, got ${options.maxNewTokens}.` });
  }
  const batch = prompts.length;
  const width = Math.max(...prompts.map((p) => p.length));
  const pad = options.padTokenId ?? 0;
  const ids = new Int32Array(batch * width).fill(pad);
  const padding = prompts.map((p) => Array.from({ length: width }, (_, t) => (t >= width - p.length ? 1 : 0)));
  const positions = prompts.map((p) => Array.from({ length: width }, (_, t) => Math.max(0, t - (width - p.length))));
  prompts.forEach((p, b) => ids.set(p, b * width + width - p.length));

  const stopIds = new Set(options.stopTokenIds ?? [...defaultStopTokenIds(model.config), ...(options.tokenizer?.eosTokenIds ?? [])]);
  const rng = new Rng(options.seed ?? 0);
  const sequences: number[][] = prompts.map(() => []);
  const finishReasons: FinishReason[] = prompts.map(() => 'length');
  const done = prompts.map(() => false);
  const nextPosition = prompts.map((p) => p.length);
  const vocab = model.config.vocabSize;

  const cache = model.makeCache();
  try {
    // `active[i]`: the prompt whose row sits at batch position i. A row that stops leaves the
    // batch (its keys and values with it), so later steps only compute the rows still running.
    let active = prompts.map((_, b) => b);
    let input = tf.tensor2d(ids, [batch, width], 'int32');
    let logits = model.forward(input, { cache, attentionMask: padding, positionIds: positions, logitsToKeep: 1 });
    input.dispose();
    for (let step = 0; step < options.maxNewTokens; step++) {
      const data = (await logits.data()) as Float32Array;
      logits.dispose();
      const next: number[] = [];
      active.forEach((b, i) => {
        const row = data.subarray(i * vocab, (i + 1) * vocab);
        if ((sequences[b] as number[]).length < (options.minNewTokens ?? 0)) for (const id of stopIds) row[id] = -Infinity;
        options.processLogits?.(row, sequences[b] as number[], b);
        const token = sampleToken(row, options, rng);
        next.push(token);
        sequences[b]?.push(token);
        options.onToken?.(token, b);
        if (stopIds.has(token) || options.stop?.(sequences[b] as number[], b) === true) {
          done[b] = true;
          finishReasons[b] = 'stop';
        }
      });
      if (done.every(Boolean) || step === options.maxNewTokens - 1) return { sequences, finishReasons };
      const running = active.flatMap((b, i) => (done[b] ? [] : [i]));
      if (running.length < active.length) {
        cache.keepRows(running);
        active = running.map((i) => active[i] as number);
      }
      input = tf.tensor2d(
        running.map((i) => next[i] as number),
        [active.length, 1],
        'int32',
      );
      const positionIds = active.map((b) => [nextPosition[b] as number]);
      for (const b of active) nextPosition[b] = (nextPosition[b] as number) + 1;
      logits = model.forward(input, { cache, attentionMask: active.map(() => [1]), positionIds });
      input.dispose();
    }
    logits.dispose();
    return { sequences, finishReasons };
  } finally {
    cache.dispose();
  }
}

/** Why a row stopped. */
export type FinishReason = GenerateOutput['finishReasons'][number];

/** Result of {@link generate}. */
export type GenerateOutput = Awaited<ReturnType<typeof generate>>;
