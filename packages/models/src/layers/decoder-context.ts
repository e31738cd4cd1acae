import * as tf from '@tensorflow/tfjs';
import type { ForwardOptions } from '../architectures/causal-lm.js';
import type { KVCache } from '../cache/kv-cache.js';
import type { LayerType, ModelConfig } from '../config/model-config.js';
import { attentionMask } from './masks.js';
import { ropeInverseFrequencies, ropeTables } from './rope.js';

/** Per-forward inputs every decoder layer needs: masks and rotary tables per layer type. */
export interface DecoderContext {
  readonly mask: Readonly<Record<LayerType, tf.Tensor4D>>;
  readonly cos: Readonly<Record<LayerType, tf.Tensor4D>>;
  readonly sin: Readonly<Record<LayerType, tf.Tensor4D>>;
  readonly cache: KVCache | undefined;
}

/** Inverse rotary frequencies of a model, one tensor per layer type (shared when identical). */
export class RopeFrequencies {
  private readonly inv: Record<LayerType, tf.Tensor1D>;

  constructor(config: ModelConfig) {
    const full = tf.tensor1d(ropeInverseFrequencies(config.rope.full_attention, config.headDim));
    const sameRope = config.rope.full_attention === config.rope.sliding_attention;
    const sliding = sameRope ? full : tf.tensor1d(ropeInverseFrequencies(config.rope.sliding_attention, config.headDim));
    this.inv = { full_attention: full, sliding_attention: sliding };
  }

  get(type: LayerType): tf.Tensor1D {
    return this.inv[type];
  }

  dispose(): void {
    this.inv.full_attention.dispose();
    if (this.inv.sliding_attention !== this.inv.full_attention) this.inv.sliding_attention.dispose();
  }
}

/**
 * Builds the {@link DecoderContext} of one forward over `[batch, queryLength]` new tokens. Must be
 * called inside a `tf.tidy` (its tensors are scoped to the forward).
 */
export function decoderContext(
  config: ModelConfig,
  rope: RopeFrequencies,
  batch: number,
  queryLength: number,
  options: ForwardOptions,
): DecoderContext {
  const cache = options.cache;
  const offset = cache?.offset ?? 0;
  const keyLength = offset + queryLength;
  const padding = cache === undefined ? options.attentionMask : cache.extendPadding(batch, queryLength, options.attentionMask);
  const positions = new Int32Array(batch * queryLength);
  for (let b = 0; b < batch; b++) {
    const row = options.positionIds?.[b];
    for (let t = 0; t < queryLength; t++) positions[b * queryLength + t] = row === undefined ? offset + t : (row[t] as number);
  }
  const positionIds = tf.tensor2d(positions, [batch, queryLength], 'int32');
  const types: LayerType[] = ['full_attention', 'sliding_attention'];
  const mask = {} as Record<LayerType, tf.Tensor4D>;
  const cos = {} as Record<LayerType, tf.Tensor4D>;
  const sin = {} as Record<LayerType, tf.Tensor4D>;
  for (const type of types) {
    if (!config.layerTypes.includes(type)) continue;
    mask[type] = attentionMask({
      batch,
      queryLength,
      keyLength,
      offset,
      padding,
      segments: options.segmentIds,
      slidingWindow: type === 'sliding_attention' ? config.slidingWindow : undefined,
    });
    const tables = ropeTables(rope.get(type), positionIds);
    cos[type] = tables.cos;
    sin[type] = tables.sin;
  }
  return { mask, cos, sin, cache };
}
