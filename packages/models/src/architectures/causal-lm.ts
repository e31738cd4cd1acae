import type * as tf from '@tensorflow/tfjs';
import type { KVCache } from '../cache/kv-cache.js';
import type { ModelConfig } from '../config/model-config.js';
import type { EmbeddingLike } from '../layers/embedding.js';
import type { LinearLike } from '../layers/linear.js';

/** Options of {@link CausalLM.forward}. Integer metadata is passed as host arrays. */
export interface ForwardOptions {
  /** Cache to read and extend; its `offset` is advanced by the number of new tokens. */
  cache?: KVCache;
  /** Per row, 1 for real tokens and 0 for padding, over the NEW tokens (or over all slots `offset + T`). */
  attentionMask?: readonly ArrayLike<number>[];
  /** Per row, rotary positions of the new tokens (default `offset + t`). */
  positionIds?: readonly ArrayLike<number>[];
  /** Per row, document ids of packed sequences (no cache): attention stays inside a document. */
  segmentIds?: readonly ArrayLike<number>[];
  /** Compute logits only for the last `n` positions (prefill for generation). */
  logitsToKeep?: number;
  /**
   * `'hidden'`: return the final hidden states `[B, T', hidden]` (after the final norm, before
   * `lm_head`) instead of the logits, for a loss that applies the head itself in chunks
   * (see {@link CausalLM.outputHead}). Default `'logits'`.
   */
  output?: 'logits' | 'hidden';
}

/** What turns final hidden states into logits: `lm_head`, then the optional soft-capping. */
export interface OutputHead {
  /** The module in place as `lm_head` (a LoRA wrapper if one was put there). */
  readonly lmHead: LinearLike;
  /** `c` of `logits = c·tanh(z / c)` where the architecture caps its final logits, else undefined. */
  readonly finalLogitSoftcapping: number | undefined;
}

/** One replaceable linear module of a model, addressed by its Hugging Face path. */
export interface LinearSlot {
  /**
   * Module path as transformers names it in memory (and PEFT in adapter keys), e.g.
   * `model.layers.0.self_attn.q_proj`; for the text decoder of a Gemma3ForConditionalGeneration
   * `model.language_model.layers.0.self_attn.q_proj` (see `transformersName`).
   */
  readonly path: string;
  /** The module currently in place. */
  get(): LinearLike;
  /** Puts another module in place (the caller manages the old one's lifetime). */
  set(module: LinearLike): void;
}

/** The replaceable token embedding of a model (`model.embed_tokens`). */
export interface EmbeddingSlot {
  /** Module path as in the checkpoint, `model.embed_tokens`. */
  readonly path: string;
  /** The module currently in place. */
  get(): EmbeddingLike;
  /** Puts another module in place (the caller manages the old one's lifetime). */
  set(module: EmbeddingLike): void;
}

/**
 * A decoder-only language model: ids in, logits out. Generation, scoring, adapters and training
 * only use this interface.
 */
export interface CausalLM {
  readonly config: ModelConfig;
  /** `inputIds` `[B, T]` int32 → logits `[B, T', vocab]` (T' = T or `logitsToKeep`). */
  forward(inputIds: tf.Tensor2D, options?: ForwardOptions): tf.Tensor3D;
  /** An empty KV cache laid out for this model. */
  makeCache(): KVCache;
  /** Every linear module (attention and MLP projections, and `lm_head` unless tied), in model order. */
  linearModules(): LinearSlot[];
  /** The token embedding (`model.embed_tokens`). */
  embeddingModule(): EmbeddingSlot;
  /**
   * The output projection (`lm_head`), also when its weight is tied to the embedding (then
   * {@link CausalLM.linearModules} leaves it out, and a module put in its place must keep the
   * original weight alive: the embedding reads it).
   */
  lmHeadModule(): LinearSlot;
  /**
   * Optional: the head that {@link ForwardOptions.output} `'hidden'` leaves out. Models that
   * implement it honour `output: 'hidden'`; a wrapper (e.g. @lora/peft's `PeftModel`) may leave it
   * to its `baseModel`.
   */
  outputHead?(): OutputHead;
  /** Trainable variables of the model and any modules put in place. */
  trainableVariables(): tf.Variable[];
  /** Frees every tensor the model owns. */
  dispose(): void;
}

/** A {@link LinearSlot} over a property of an object. */
export function slot<K extends string>(owner: Record<K, LinearLike>, key: K, path: string): LinearSlot {
  return {
    path,
    get: () => owner[key],
    set: (module) => {
      owner[key] = module;
    },
  };
}
