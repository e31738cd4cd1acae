import type * as tf from '@tensorflow/tfjs';
import type { KVCache } from '../cache/kv-cache.js';
import type { ModelConfig } from '../config/model-config.js';
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

/** Options of {@link CausalLM.linearModules}. */
export interface LinearModulesOptions {
  /**
   * Also list `lm_head` when it shares its weight with the input embedding (default false: a tied
   * head is not a separate module for quantization or full fine-tuning). Adapters use it: PEFT can
   * target `lm_head` of a tied model, adapting the output side only.
   */
  readonly includeTiedHead?: boolean;
}

/** One replaceable linear module of a model, addressed by its Hugging Face path. */
export interface LinearSlot {
  /** Module path as in the checkpoint, e.g. `model.layers.0.self_attn.q_proj`. */
  readonly path: string;
  /** The module currently in place. */
  get(): LinearLike;
  /** Puts another module in place (the caller manages the old one's lifetime). */
  set(module: LinearLike): void;
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
  /**
   * Every linear module (attention and MLP projections, and `lm_head` unless tied — or also when
   * tied with `includeTiedHead`), in model order.
   */
  linearModules(options?: LinearModulesOptions): LinearSlot[];
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
