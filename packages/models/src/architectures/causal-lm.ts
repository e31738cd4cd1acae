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
