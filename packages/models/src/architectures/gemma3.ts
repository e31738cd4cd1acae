// Gemma 3 text decoder: embeddings × √hidden, RMSNorm × (1 + w), q/k norms, four norms per block
// (pre/post attention, pre/post feed-forward), gelu-tanh MLP, attention scaled by
// query_pre_attn_scalar, sliding (local, own rope base) and global layers.
// Reference: transformers/models/gemma3/modeling_gemma3.py.
import * as tf from '@tensorflow/tfjs';
import type { ModelConfig } from '../config/model-config.js';
import type { WeightSource } from '../io/host-tensor.js';
import type { DecoderContext } from '../layers/decoder-context.js';
import type { GatedMLP } from '../layers/mlp.js';
import { RMSNorm } from '../layers/rms-norm.js';
import { addSameShape } from '../layers/tape.js';
import { type DecoderBlock, DecoderModel } from './decoder-model.js';
import { LlamaAttention, loadEmbeddingAndHead, loadMlp, loadOProj, loadQkv } from './llama.js';
import { type LinearFactory, WeightReader } from './weight-reader.js';

/** Gemma 3 block: `h = x + postAttnNorm(attn(inputNorm(x))); out = h + postFfNorm(mlp(preFfNorm(h)))`. */
export class Gemma3DecoderLayer implements DecoderBlock {
  constructor(
    readonly selfAttn: LlamaAttention,
    readonly mlp: GatedMLP,
    readonly inputLayernorm: RMSNorm,
    readonly postAttentionLayernorm: RMSNorm,
    readonly preFeedforwardLayernorm: RMSNorm,
    readonly postFeedforwardLayernorm: RMSNorm,
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
      const attn = this.selfAttn.applyFlat(this.inputLayernorm.apply(x2) as tf.Tensor2D, b, t, ctx);
      const h = addSameShape(x2, this.postAttentionLayernorm.apply(attn));
      const ff = this.mlp.apply(this.preFeedforwardLayernorm.apply(h));
      return addSameShape(h, this.postFeedforwardLayernorm.apply(ff));
    });
  }

  dispose(): void {
    this.selfAttn.dispose();
    this.mlp.dispose();
    for (const n of [this.inputLayernorm, this.postAttentionLayernorm, this.preFeedforwardLayernorm, this.postFeedforwardLayernorm]) {
      n.dispose();
    }
  }
}

/**
 * Maps the tensor names of a multimodal Gemma 3 checkpoint to the text decoder's
 * (`model.language_model.*` in transformers v5, `language_model.model.*` in v4); vision tower and
 * projector tensors are skipped.
 */
export function gemma3TextKey(key: string): string | undefined {
  if (key.startsWith('model.language_model.')) return `model.${key.slice('model.language_model.'.length)}`;
  if (key.startsWith('language_model.model.')) return `model.${key.slice('language_model.model.'.length)}`;
  if (key.startsWith('language_model.lm_head.')) return `lm_head.${key.slice('language_model.lm_head.'.length)}`;
  if (/^(model\.)?(vision_tower|multi_modal_projector)\./.test(key)) return undefined;
  return key;
}

/**
 * Loads `Gemma3ForCausalLM` (or the text part of `Gemma3ForConditionalGeneration`, whose vision
 * tower and projector tensors are skipped with one warning that counts them).
 */
export async function loadGemma3(
  config: ModelConfig,
  weights: WeightSource,
  file = '<weights>',
  options: { linearFactory?: LinearFactory; onWarning?: (message: string) => void } = {},
): Promise<DecoderModel> {
  const r = new WeightReader(weights, file, gemma3TextKey, options.linearFactory);
  const { hiddenSize: dm, rmsNormEps: eps, headDim: d } = config;
  const norm = async (name: string, dim: number) => new RMSNorm(await r.float(name, [dim]), eps, { offset: 1 });
  const layers: Gemma3DecoderLayer[] = [];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    const { q, k, v } = await loadQkv(r, config, p);
    const qkNorms = { q: await norm(`${p}.self_attn.q_norm.weight`, d), k: await norm(`${p}.self_attn.k_norm.weight`, d) };
    layers.push(
      new Gemma3DecoderLayer(
        new LlamaAttention(q, k, v, await loadOProj(r, config, p), config, i, qkNorms),
        await loadMlp(r, config, p),
        await norm(`${p}.input_layernorm.weight`, dm),
        await norm(`${p}.post_attention_layernorm.weight`, dm),
        await norm(`${p}.pre_feedforward_layernorm.weight`, dm),
        await norm(`${p}.post_feedforward_layernorm.weight`, dm),
      ),
    );
  }
  const finalNorm = await norm('model.norm.weight', dm);
  // √hidden is a float32 buffer in the reference, cast to the weight dtype (float32 here).
  const { embedding, lmHead } = await loadEmbeddingAndHead(r, config, Math.fround(Math.sqrt(dm)));
  r.finish();
  const skipped = r.skippedKeys();
  if (skipped.length > 0) {
    (options.onWarning ?? console.warn)(
      `${file}: skipped ${skipped.length} vision tower / multi_modal_projector tensor(s) of ${config.architecture ?? 'the checkpoint'}; @lora runs its text decoder only (text in, text out).`,
    );
  }
  // Gemma3ForCausalLM soft-caps its logits; Gemma3ForConditionalGeneration never reads the field.
  const finalLogitSoftcapping = config.architecture === 'Gemma3ForConditionalGeneration' ? undefined : config.finalLogitSoftcapping;
  return new DecoderModel(config, { embedding, layers, norm: finalNorm, lmHead, finalLogitSoftcapping });
}
