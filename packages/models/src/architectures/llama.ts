// Llama (1/2/3, incl. llama3 rope scaling) and Mistral (optional sliding window): the two differ
// only by configuration, so Mistral is an alias of this file (as in mlx-lm).
// Reference: transformers/models/llama/modeling_llama.py, mistral/modeling_mistral.py.
import * as tf from '@tensorflow/tfjs';
import type { LayerType, ModelConfig } from '../config/model-config.js';
import type { WeightSource } from '../io/host-tensor.js';
import { groupedQueryAttention, ropeAttention } from '../layers/attention.js';
import { DECODE_ATTENTION, inferenceKernel } from '../backend/native-kernel-names.js';
import { applyLinears } from '../layers/ggml-linear.js';
import type { DecoderContext } from '../layers/decoder-context.js';
import { Embedding, type EmbeddingLike } from '../layers/embedding.js';
import { Linear, type LinearLike } from '../layers/linear.js';
import { GatedMLP } from '../layers/mlp.js';
import { RMSNorm } from '../layers/rms-norm.js';
import { addSameShape } from '../layers/tape.js';
import { applyRope } from '../layers/rope.js';
import { type DecoderBlock, DecoderModel } from './decoder-model.js';
import { type LinearFactory, WeightReader } from './weight-reader.js';

/** Per-head norms applied to queries and keys before RoPE (Qwen3, Gemma 3); Llama has none. */
export interface QkNorms {
  q: RMSNorm;
  k: RMSNorm;
}

/** Multi-head attention with grouped KV heads, rotary embeddings and optional q/k norms. */
export class LlamaAttention {
  constructor(
    public qProj: LinearLike,
    public kProj: LinearLike,
    public vProj: LinearLike,
    public oProj: LinearLike,
    private readonly config: ModelConfig,
    private readonly layerIndex: number,
    private readonly qkNorms?: QkNorms,
  ) {}

  /** Attention kind of this layer (sliding window or full). */
  get layerType(): LayerType {
    return this.config.layerTypes[this.layerIndex] as LayerType;
  }

  apply(x: tf.Tensor3D, ctx: DecoderContext): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t, dm] = x.shape;
      return tf.reshape(this.applyFlat(tf.reshape(x, [b * t, dm]), b, t, ctx), [b, t, -1]) as tf.Tensor3D;
    });
  }

  /**
   * The attention over flattened hidden states: `x` `[B·T, hidden]` → `[B·T, hidden]`. A decode
   * step (`T = 1`) needs no head transposes: its `[B, heads·D]` rows already are `[B, heads, 1, D]`.
   */
  applyFlat(x: tf.Tensor2D, b: number, t: number, ctx: DecoderContext): tf.Tensor2D {
    return tf.tidy(() => {
      const { numAttentionHeads: h, numKeyValueHeads: kv, headDim: d } = this.config;
      const rep = h / kv;
      const type = this.layerType;
      const { cos, sin } = { cos: ctx.cos[type], sin: ctx.sin[type] };
      // Queries in the grouped layout [B, KV, rep·T, D] of `groupedQueryAttention`; keys and values [B, KV, T, D].
      // A decode step rotates with one matmul per projection (DecoderContext.ropeMatrix); the
      // queries' matrix also carries the attention scale.
      const queryMatrix = t === 1 ? ctx.queryRopeMatrix?.[type] : undefined;
      const heads = (y: tf.Tensor, n: number, norm: RMSNorm | undefined, rope: boolean): tf.Tensor4D => {
        let z: tf.Tensor4D;
        const matrix = !rope || t !== 1 ? undefined : n === h ? queryMatrix : ctx.ropeMatrix?.[type];
        if (matrix !== undefined) {
          let z3 = tf.reshape(y, [b, n, d]);
          if (norm !== undefined) z3 = norm.apply(z3);
          return tf.reshape(tf.matMul(z3, matrix), n === h ? [b, kv, rep, d] : [b, n, 1, d]);
        }
        if (t === 1) {
          // [B, n·D] is [B, n, 1, D]; for queries fold the group rows directly ([B, KV, rep, D]).
          z = tf.reshape(y, n === h ? [b, kv, rep, d] : [b, n, 1, d]);
          if (norm !== undefined) z = norm.apply(z) as tf.Tensor4D;
          return rope ? applyRope(z, cos, sin, ctx.rotateHalf) : z;
        }
        z = tf.reshape(y, [b, t, n, d]);
        if (norm !== undefined) z = norm.apply(z) as tf.Tensor4D;
        z = tf.transpose(z, [0, 2, 1, 3]);
        if (rope) z = applyRope(z, cos, sin, ctx.rotateHalf);
        return n === h && rep > 1 ? tf.reshape(z, [b, kv, rep * t, d]) : z;
      };
      const [qy, ky, vy] = applyLinears(x, [this.qProj, this.kProj, this.vProj]) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      // A decoding step without mask or q/k norms: rotation, cache append and attention in one native op.
      const cached = t === 1 && this.qkNorms === undefined && ctx.mask[type] === undefined ? ctx.cache?.peek(this.layerIndex) : undefined;
      const keyMatrix = ctx.ropeMatrix?.[type];
      if (cached !== undefined && queryMatrix !== undefined && keyMatrix !== undefined && inferenceKernel(DECODE_ATTENTION)) {
        const [out, keys, values] = tf
          .engine()
          .runKernel(
            DECODE_ATTENTION,
            { q: qy, k: ky, v: vy, qRot: queryMatrix, kRot: keyMatrix, keys: cached.keys, values: cached.values },
            { heads: h, kvHeads: kv },
          ) as [tf.Tensor2D, tf.Tensor4D, tf.Tensor4D];
        ctx.cache?.replace(this.layerIndex, keys, values);
        return this.oProj.apply(out) as tf.Tensor2D;
      }
      // Training and scoring (no cache, no q/k norms): rotation, head layout and attention in one native op.
      if (t > 1 && ctx.cache === undefined && this.qkNorms === undefined) {
        const scale = 1 / Math.sqrt(this.config.queryPreAttnScalar ?? d);
        const fused = ropeAttention(
          { q: qy, k: ky, v: vy, cos, sin, heads: h, kvHeads: kv, queryLength: t },
          { scale, mask: ctx.mask[type], causal: ctx.unpadded },
        );
        if (fused !== undefined) return this.oProj.apply(fused) as tf.Tensor2D;
      }
      const q = heads(qy, h, this.qkNorms?.q, true);
      let k = heads(ky, kv, this.qkNorms?.k, true);
      let v = heads(vy, kv, undefined, false);
      if (ctx.cache !== undefined) ({ keys: k, values: v } = ctx.cache.update(this.layerIndex, k, v));
      const scale = queryMatrix !== undefined ? 1 : 1 / Math.sqrt(this.config.queryPreAttnScalar ?? d);
      // Every decoder here is causal (packing segments and sliding windows only mask more); without
      // padding no query row is fully masked, which the query-block split needs. No score
      // soft-capping: transformers' Gemma 3 keeps `attn_logit_softcapping` in its config but never
      // passes it to the attention (Gemma 2 does; Llama, Mistral and Qwen3 have none).
      const out = groupedQueryAttention(q, k, v, t, { scale, mask: ctx.mask[type], causal: ctx.unpadded });
      // [B, KV, rep·T, D] is [B, H, T, D]; back to rows [B·T, H·D].
      const merged =
        t === 1 ? tf.reshape(out, [b, h * d]) : tf.reshape(tf.transpose(tf.reshape(out, [b, h, t, d]), [0, 2, 1, 3]), [b * t, h * d]);
      return this.oProj.apply(merged) as tf.Tensor2D;
    });
  }

  dispose(): void {
    for (const m of [this.qProj, this.kProj, this.vProj, this.oProj]) m.dispose();
    this.qkNorms?.q.dispose();
    this.qkNorms?.k.dispose();
  }
}

/** Pre-norm decoder block: `h = x + attn(norm(x)); out = h + mlp(norm(h))` (Llama, Mistral, Qwen3). */
export class LlamaDecoderLayer implements DecoderBlock {
  constructor(
    readonly selfAttn: LlamaAttention,
    readonly mlp: GatedMLP,
    readonly inputLayernorm: RMSNorm,
    readonly postAttentionLayernorm: RMSNorm,
  ) {}

  apply(x: tf.Tensor3D, ctx: DecoderContext): tf.Tensor3D {
    return tf.tidy(() => {
      // Flattened to [B·T, hidden] once per block: linears and norms then need no reshapes.
      const [b, t, dm] = x.shape;
      return tf.reshape(this.applyFlat(tf.reshape(x, [b * t, dm]) as tf.Tensor2D, b, t, ctx), [b, t, dm]) as tf.Tensor3D;
    });
  }

  /** {@link apply} on hidden states already flattened to `[B·T, hidden]`. */
  applyFlat(x2: tf.Tensor2D, b: number, t: number, ctx: DecoderContext): tf.Tensor2D {
    return tf.tidy(() => {
      const attended = this.selfAttn.applyFlat(this.inputLayernorm.apply(x2) as tf.Tensor2D, b, t, ctx);
      const fused = this.postAttentionLayernorm.addAndApply(x2, attended);
      const h = (fused?.sum as tf.Tensor2D | undefined) ?? addSameShape(x2, attended);
      return addSameShape(h, this.mlp.apply(fused?.normed ?? this.postAttentionLayernorm.apply(h)));
    });
  }

  dispose(): void {
    this.selfAttn.dispose();
    this.mlp.dispose();
    this.inputLayernorm.dispose();
    this.postAttentionLayernorm.dispose();
  }
}

/**
 * Loads `LlamaForCausalLM` / `MistralForCausalLM` (and, with `qkNorm`, `Qwen3ForCausalLM`) from
 * HF-named weights. Strict: a missing, misshapen or unused tensor is an error.
 */
export async function loadLlama(
  config: ModelConfig,
  weights: WeightSource,
  file = '<weights>',
  options: { qkNorm?: boolean; linearFactory?: LinearFactory } = {},
): Promise<DecoderModel> {
  const rename = (key: string) => (key.endsWith('.rotary_emb.inv_freq') ? undefined : key);
  const r = new WeightReader(weights, file, rename, options.linearFactory);
  const { hiddenSize: dm, rmsNormEps: eps, headDim: d } = config;
  const layers: LlamaDecoderLayer[] = [];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    const { q, k, v } = await loadQkv(r, config, p);
    const norms = options.qkNorm
      ? {
          q: new RMSNorm(await r.float(`${p}.self_attn.q_norm.weight`, [d]), eps),
          k: new RMSNorm(await r.float(`${p}.self_attn.k_norm.weight`, [d]), eps),
        }
      : undefined;
    const attn = new LlamaAttention(q, k, v, await loadOProj(r, config, p), config, i, norms);
    layers.push(
      new LlamaDecoderLayer(
        attn,
        await loadMlp(r, config, p),
        new RMSNorm(await r.float(`${p}.input_layernorm.weight`, [dm]), eps),
        new RMSNorm(await r.float(`${p}.post_attention_layernorm.weight`, [dm]), eps),
      ),
    );
  }
  const norm = new RMSNorm(await r.float('model.norm.weight', [dm]), eps);
  const { embedding, lmHead } = await loadEmbeddingAndHead(r, config);
  r.finish();
  return new DecoderModel(config, { embedding, layers, norm, lmHead });
}

/**
 * Loads `model.embed_tokens` and `lm_head`. A tied head shares the table: it is stored once as
 * `[hidden, vocab]`, serving the lookup (gather on axis 1) and the flag-free head matmul.
 */
export async function loadEmbeddingAndHead(
  r: WeightReader,
  config: ModelConfig,
  embedScale = 1,
): Promise<{ embedding: EmbeddingLike; lmHead: LinearLike }> {
  const { vocabSize: v, hiddenSize: dm } = config;
  const table = await r.float('model.embed_tokens.weight', [v, dm]);
  if (config.tieWordEmbeddings) {
    r.ignore('lm_head.weight');
    const built = await r.built('lm_head', v, dm, false, 'model.embed_tokens.weight');
    if (built !== undefined) {
      // The head multiplies by the factory's form of the table (e.g. its GGUF blocks); the lookup
      // keeps a float32 copy, vocab-major.
      return { embedding: new Embedding(tf.tensor2d(table, [v, dm]), 'vocab-major', { scale: embedScale }), lmHead: built };
    }
    const lmHead = Linear.fromTorch(table, v, dm, { name: 'lm_head' });
    // The embedding reads the head's [hidden, vocab] weight; the head owns (and disposes) it.
    return { embedding: new Embedding(lmHead.weight, 'hidden-major', { scale: embedScale, ownsTable: false }), lmHead };
  }
  const embedding = new Embedding(tf.tensor2d(table, [v, dm]), 'vocab-major', { scale: embedScale });
  return { embedding, lmHead: await r.dense('lm_head', v, dm) };
}

/** Loads `q_proj`, `k_proj`, `v_proj` of layer prefix `p`. */
export async function loadQkv(r: WeightReader, config: ModelConfig, p: string): Promise<{ q: LinearLike; k: LinearLike; v: LinearLike }> {
  const { hiddenSize: dm, numAttentionHeads: h, numKeyValueHeads: kv, headDim: d, attentionBias: bias } = config;
  return {
    q: await r.linear(`${p}.self_attn.q_proj`, h * d, dm, bias),
    k: await r.linear(`${p}.self_attn.k_proj`, kv * d, dm, bias),
    v: await r.linear(`${p}.self_attn.v_proj`, kv * d, dm, bias),
  };
}

/** Loads `o_proj` of layer prefix `p`. */
export function loadOProj(r: WeightReader, config: ModelConfig, p: string): Promise<LinearLike> {
  return r.linear(`${p}.self_attn.o_proj`, config.hiddenSize, config.numAttentionHeads * config.headDim, config.attentionBias);
}

/** Loads the gated MLP of layer prefix `p`. */
export async function loadMlp(r: WeightReader, config: ModelConfig, p: string): Promise<GatedMLP> {
  const { hiddenSize: dm, intermediateSize: ff, mlpBias: bias } = config;
  return new GatedMLP(
    await r.linear(`${p}.mlp.gate_proj`, ff, dm, bias),
    await r.linear(`${p}.mlp.up_proj`, ff, dm, bias),
    await r.linear(`${p}.mlp.down_proj`, dm, ff, bias),
    config.hiddenAct,
  );
}
