import * as tf from '@tensorflow/tfjs';
import type { ForwardOptions } from '../architectures/causal-lm.js';
import type { KVCache } from '../cache/kv-cache.js';
import type { LayerType, ModelConfig } from '../config/model-config.js';
import { attentionMask } from './masks.js';
import { isRecordingGradients } from './tape.js';
import {
  ropeAttentionScaling,
  ropeDependsOnLength,
  ropeInverseFrequencies,
  ropeTablesForPositions,
  ropeTablesForRange,
  rotateHalfMatrix,
} from './rope.js';

/** Per-forward inputs every decoder layer needs: masks and rotary tables per layer type. */
export interface DecoderContext {
  /** Additive masks `[B or 1, 1, T, S]`; absent for a type when nothing is masked. */
  readonly mask: Readonly<Partial<Record<LayerType, tf.Tensor4D>>>;
  /** Rotary cosines `[B, 1, T, headDim]`. */
  readonly cos: Readonly<Record<LayerType, tf.Tensor4D>>;
  /** Rotary sines `[B, 1, T, headDim]` with the first half negated (see `applyRope`). */
  readonly sin: Readonly<Record<LayerType, tf.Tensor4D>>;
  /** Half-swap permutation matrix of the head dimension (owned by the model; see `applyRope`). */
  readonly rotateHalf: tf.Tensor2D;
  /** No key is padding (no attention mask, or one of all ones): every query sees at least itself. */
  readonly unpadded: boolean;
  /**
   * For a single-token step without a gradient tape (decoding): the whole rotation per batch row
   * as one matrix `[B, headDim, headDim]` = diag(cos) + rotateHalf · diag(sin), so `applyRope`
   * is one matmul instead of a roll and three elementwise ops per projection and layer.
   */
  readonly ropeMatrix?: Readonly<Partial<Record<LayerType, tf.Tensor3D>>>;
  /**
   * {@link ropeMatrix} times the attention scale (`1/√(queryPreAttnScalar ?? headDim)`): queries
   * rotated with it arrive at attention already scaled.
   */
  readonly queryRopeMatrix?: Readonly<Partial<Record<LayerType, tf.Tensor3D>>>;
  readonly cache: KVCache | undefined;
}

/**
 * Positions covered by the rotary tables built with the model (at most `max_position_embeddings`);
 * longer inputs grow them by doubling. Built up front so that forwards allocate the same way every
 * time (4096 × headDim 128 × 2 tables is 4 MB).
 */
const INITIAL_TABLE_LENGTH = 4096;

/**
 * Rotary state of a model, one entry per layer type (shared when identical): inverse
 * frequencies, and cos/sin tables over positions computed once and grown on demand, so a forward
 * only gathers the rows of its position ids. The tables hold the frequencies of the pretraining
 * length; a `dynamic` or `longrope` forward past it gets its own rows ({@link RopeFrequencies.rows}).
 */
export class RopeFrequencies {
  private readonly inv: Record<LayerType, tf.Tensor1D>;
  private readonly config: ModelConfig;
  private readonly tables: Partial<Record<LayerType, { length: number; cos: tf.Tensor2D; sin: tf.Tensor2D }>> = {};
  /** The permutation matrix of `applyRope`'s roll. */
  readonly rotateHalf: tf.Tensor2D;
  /** The `[headDim, headDim]` identity (for the decode-step rotation matrix). */
  readonly identity: tf.Tensor2D;

  constructor(config: ModelConfig) {
    this.config = config;
    const full = tf.tensor1d(ropeInverseFrequencies(config.rope.full_attention, config.headDim));
    const sameRope = config.rope.full_attention === config.rope.sliding_attention;
    const sliding = sameRope ? full : tf.tensor1d(ropeInverseFrequencies(config.rope.sliding_attention, config.headDim));
    this.inv = { full_attention: full, sliding_attention: sliding };
    this.rotateHalf = rotateHalfMatrix(config.headDim);
    this.identity = tf.eye(config.headDim) as tf.Tensor2D;
    const initial = Math.max(1, Math.min(config.maxPositionEmbeddings, INITIAL_TABLE_LENGTH));
    for (const type of ['full_attention', 'sliding_attention'] as const) {
      if (config.layerTypes.includes(type)) this.table(type, initial);
    }
  }

  get(type: LayerType): tf.Tensor1D {
    return this.inv[type];
  }

  /** Cos and signed-sin tables `[L, headDim]` covering positions `0 … minLength-1` (owned here). */
  table(type: LayerType, minLength: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    const key: LayerType = this.inv[type] === this.inv.full_attention ? 'full_attention' : type;
    const current = this.tables[key];
    if (current !== undefined && current.length >= minLength) return current;
    let length = current?.length ?? minLength;
    while (length < minLength) length *= 2;
    if (current !== undefined) tf.dispose([current.cos, current.sin]);
    const { cos, sin } = ropeTablesForRange(this.inv[key], length, ropeAttentionScaling(this.config.rope[key]));
    const entry = { length, cos: tf.keep(cos), sin: tf.keep(sin) };
    this.tables[key] = entry;
    return entry;
  }

  /**
   * Cos and signed-sin rows `[N, headDim]` of `positions` `[N]` (int32) for a forward whose largest
   * position is `maxPosition`. Gathered from {@link table}, except for a `dynamic` or `longrope`
   * rope whose sequence (`maxPosition + 1`) exceeds the pretraining length: those are computed from
   * that length's frequencies, as transformers recomputes them per forward. Must be called inside
   * a `tf.tidy`.
   */
  rows(type: LayerType, positions: tf.Tensor1D, maxPosition: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
    const rope = this.config.rope[type];
    const length = maxPosition + 1;
    if (ropeDependsOnLength(rope, length)) {
      const inv = tf.tensor1d(ropeInverseFrequencies(rope, this.config.headDim, length));
      return ropeTablesForPositions(inv, positions, ropeAttentionScaling(rope));
    }
    const table = this.table(type, length);
    return { cos: tf.gather(table.cos, positions), sin: tf.gather(table.sin, positions) };
  }

  dispose(): void {
    this.inv.full_attention.dispose();
    if (this.inv.sliding_attention !== this.inv.full_attention) this.inv.sliding_attention.dispose();
    for (const entry of Object.values(this.tables)) tf.dispose([entry.cos, entry.sin]);
    this.rotateHalf.dispose();
    this.identity.dispose();
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
  let maxPosition = 0;
  for (let b = 0; b < batch; b++) {
    const row = options.positionIds?.[b];
    for (let t = 0; t < queryLength; t++) {
      const p = row === undefined ? offset + t : (row[t] as number);
      positions[b * queryLength + t] = p;
      if (p > maxPosition) maxPosition = p;
    }
  }
  const positionIds = tf.tensor1d(positions, 'int32');
  const types: LayerType[] = ['full_attention', 'sliding_attention'];
  const mask: Partial<Record<LayerType, tf.Tensor4D>> = {};
  const cos = {} as Record<LayerType, tf.Tensor4D>;
  const sin = {} as Record<LayerType, tf.Tensor4D>;
  for (const type of types) {
    if (!config.layerTypes.includes(type)) continue;
    const m = attentionMask({
      batch,
      queryLength,
      keyLength,
      offset,
      padding,
      segments: options.segmentIds,
      slidingWindow: type === 'sliding_attention' ? config.slidingWindow : undefined,
    });
    if (m !== undefined) mask[type] = m;
    const rows = rope.rows(type, positionIds, maxPosition);
    const shape: [number, number, number, number] = [batch, 1, queryLength, config.headDim];
    cos[type] = tf.reshape(rows.cos, shape);
    sin[type] = tf.reshape(rows.sin, shape);
  }
  const unpadded = padding === undefined || padding.every((row) => Array.prototype.every.call(row, (x: number) => x === 1));
  if (queryLength !== 1 || isRecordingGradients()) return { mask, cos, sin, rotateHalf: rope.rotateHalf, cache, unpadded };
  const ropeMatrix: Partial<Record<LayerType, tf.Tensor3D>> = {};
  const queryRopeMatrix: Partial<Record<LayerType, tf.Tensor3D>> = {};
  const scale = 1 / Math.sqrt(config.queryPreAttnScalar ?? config.headDim);
  for (const type of types) {
    const c = cos[type];
    const s = sin[type];
    if (c === undefined || s === undefined) continue;
    // Column j of the matrix: cos_j at row j and the signed sin_j at the row rotateHalf maps to j.
    const matrix = tf.reshape(tf.add(tf.mul(rope.identity, c), tf.mul(rope.rotateHalf, s)), [
      batch,
      config.headDim,
      config.headDim,
    ]) as tf.Tensor3D;
    ropeMatrix[type] = matrix;
    queryRopeMatrix[type] = tf.mul(matrix, scale) as tf.Tensor3D;
  }
  return { mask, cos, sin, rotateHalf: rope.rotateHalf, cache, unpadded, ropeMatrix, queryRopeMatrix };
}
