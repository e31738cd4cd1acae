import * as tf from '@tensorflow/tfjs';
import { KVCache } from '../cache/kv-cache.js';
import type { ModelConfig } from '../config/model-config.js';
import { type DecoderContext, RopeFrequencies, decoderContext } from '../layers/decoder-context.js';
import type { EmbeddingLike } from '../layers/embedding.js';
import type { LinearLike } from '../layers/linear.js';
import type { RMSNorm } from '../layers/rms-norm.js';
import { isRecordingGradients } from '../layers/tape.js';
import { type CausalLM, type EmbeddingSlot, type ForwardOptions, type LinearSlot, type OutputHead, slot } from './causal-lm.js';
import { decoderModulePrefix } from './module-names.js';

/** A decoder block whose modules follow the HF names `self_attn.{q,k,v,o}_proj` and `mlp.{gate,up,down}_proj`. */
export interface DecoderBlock {
  readonly selfAttn: Record<'qProj' | 'kProj' | 'vProj' | 'oProj', LinearLike>;
  readonly mlp: Record<'gateProj' | 'upProj' | 'downProj', LinearLike>;
  apply(x: tf.Tensor3D, ctx: DecoderContext): tf.Tensor3D;
  /**
   * Optional: {@link apply} on hidden states flattened to `[B·T, hidden]` (batch `B`, length `T`).
   * Without a gradient tape the model runs its blocks through it, saving two reshapes per block
   * per step; while recording gradients it always calls `apply` (which gradient checkpointing
   * wraps).
   */
  applyFlat?(x: tf.Tensor2D, batch: number, length: number, ctx: DecoderContext): tf.Tensor2D;
  dispose(): void;
}

/** Parts of a {@link DecoderModel}, assembled by an architecture's loader. */
export interface DecoderParts {
  embedding: EmbeddingLike;
  layers: DecoderBlock[];
  norm: RMSNorm;
  lmHead: LinearLike;
  /**
   * Soft-capping of the final logits (`tanh(x / c) * c`) where the architecture applies it:
   * transformers' `Gemma3ForCausalLM` does (`final_logit_softcapping`), its
   * `Gemma3ForConditionalGeneration` and the Llama family do not.
   */
  finalLogitSoftcapping?: number | undefined;
}

/**
 * The model shell shared by every architecture: embedding → blocks → final norm → `lm_head`.
 * What differs between Llama, Qwen3 and Gemma 3 lives in their blocks (see the architecture files).
 */
export class DecoderModel implements CausalLM {
  private readonly rope: RopeFrequencies;
  private readonly head: { lmHead: LinearLike };

  constructor(
    readonly config: ModelConfig,
    private readonly parts: DecoderParts,
  ) {
    this.rope = new RopeFrequencies(config);
    this.head = { lmHead: parts.lmHead };
  }

  /** The decoder blocks (`model.layers`). */
  get layers(): readonly DecoderBlock[] {
    return this.parts.layers;
  }

  forward(inputIds: tf.Tensor2D, options: ForwardOptions = {}): tf.Tensor3D {
    const [b, t] = inputIds.shape;
    const out = tf.tidy(() => {
      const ctx = decoderContext(this.config, this.rope, b, t, options);
      let x = this.parts.embedding.apply(inputIds);
      const layers = this.parts.layers;
      if (!isRecordingGradients() && layers.every((l) => l.applyFlat !== undefined)) {
        const dm = x.shape[2];
        let flat = tf.reshape(x, [b * t, dm]) as tf.Tensor2D;
        for (const layer of layers) flat = (layer.applyFlat as NonNullable<DecoderBlock['applyFlat']>).call(layer, flat, b, t, ctx);
        x = tf.reshape(flat, [b, t, dm]);
      } else {
        for (const layer of layers) x = layer.apply(x, ctx);
      }
      const hidden = this.parts.norm.apply(x) as tf.Tensor3D;
      const keep = options.logitsToKeep;
      const kept = keep === undefined || keep >= t ? hidden : tf.slice(hidden, [0, t - keep, 0], [-1, -1, -1]);
      if (options.output === 'hidden') return kept;
      let logits = this.head.lmHead.apply(kept) as tf.Tensor3D;
      const cap = this.parts.finalLogitSoftcapping;
      if (cap !== undefined) logits = tf.mul(tf.tanh(tf.div(logits, cap)), cap);
      return logits;
    });
    if (options.cache !== undefined) options.cache.offset += t;
    return out;
  }

  makeCache(): KVCache {
    return new KVCache(this.config.numHiddenLayers);
  }

  linearModules(): LinearSlot[] {
    const slots: LinearSlot[] = [];
    // Named as transformers names them in memory (PEFT's keys): `model.language_model.layers.N…` multimodal.
    const prefix = decoderModulePrefix(this.config);
    this.parts.layers.forEach((layer, i) => {
      const p = `${prefix}layers.${i}`;
      const a = layer.selfAttn;
      slots.push(slot(a, 'qProj', `${p}.self_attn.q_proj`), slot(a, 'kProj', `${p}.self_attn.k_proj`));
      slots.push(slot(a, 'vProj', `${p}.self_attn.v_proj`), slot(a, 'oProj', `${p}.self_attn.o_proj`));
      slots.push(slot(layer.mlp, 'gateProj', `${p}.mlp.gate_proj`), slot(layer.mlp, 'upProj', `${p}.mlp.up_proj`));
      slots.push(slot(layer.mlp, 'downProj', `${p}.mlp.down_proj`));
    });
    if (!this.config.tieWordEmbeddings) slots.push(this.lmHeadModule());
    return slots;
  }

  embeddingModule(): EmbeddingSlot {
    const parts = this.parts;
    return {
      path: `${decoderModulePrefix(this.config)}embed_tokens`,
      get: () => parts.embedding,
      set: (module) => {
        parts.embedding = module;
      },
    };
  }

  outputHead(): OutputHead {
    return { lmHead: this.head.lmHead, finalLogitSoftcapping: this.parts.finalLogitSoftcapping };
  }

  lmHeadModule(): LinearSlot {
    return slot(this.head, 'lmHead', 'lm_head');
  }

  trainableVariables(): tf.Variable[] {
    const vars = this.linearModules().flatMap((s) => s.get().trainableVariables());
    const extra = [...this.parts.embedding.trainableVariables()];
    if (this.config.tieWordEmbeddings) extra.push(...this.head.lmHead.trainableVariables());
    for (const v of extra) if (!vars.includes(v)) vars.push(v);
    return vars;
  }

  dispose(): void {
    for (const layer of this.parts.layers) layer.dispose();
    this.parts.norm.dispose();
    // A tied embedding reads the head's weight: the embedding module leaves it to the head.
    this.parts.embedding.dispose();
    this.head.lmHead.dispose();
    this.rope.dispose();
  }
}
