import * as tf from '@tensorflow/tfjs';
import { customGrad } from './custom-grad.js';
import type { RopeConfig } from '../config/model-config.js';
import { isRecordingGradients } from './tape.js';

const f = Math.fround;

/**
 * Inverse frequencies `[headDim / 2]` for rotary embeddings, computed step by step in float32
 * like transformers' rope initialisers (`default`, `linear`, `llama3`, `dynamic`, `yarn`,
 * `longrope`). `seqLength` is the length a forward covers (its largest position + 1): `dynamic`
 * grows its base once it exceeds `max_position_embeddings`, `longrope` switches to its long
 * factors once it exceeds `original_max_position_embeddings`; the other types ignore it.
 *
 * @example
 * ```ts
 * const inv = ropeInverseFrequencies(config.rope.full_attention, config.headDim, 8192);
 * ```
 */
export function ropeInverseFrequencies(rope: RopeConfig, headDim: number, seqLength?: number): Float32Array {
  const half = headDim / 2;
  if (rope.type === 'yarn') return yarnFrequencies(rope, headDim);
  const theta = rope.type === 'dynamic' ? dynamicBase(rope, headDim, seqLength) : rope.theta;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = f(f(2 * i) / headDim);
    inv[i] = f(1 / f(Math.pow(theta, exponent)));
  }
  if (rope.type === 'linear') return inv.map((x) => f(x / rope.factor));
  if (rope.type === 'llama3') return llama3Scale(inv, rope);
  if (rope.type === 'longrope') {
    const ext = seqLength !== undefined && seqLength > rope.originalMaxPositionEmbeddings ? rope.longFactor : rope.shortFactor;
    // 1 / (ext · theta^e): the product rounds before the division, as in transformers.
    return inv.map((_, i) => f(1 / f(f(ext?.[i] ?? 1) * f(Math.pow(theta, f(f(2 * i) / headDim))))));
  }
  return inv;
}

/**
 * The multiplier transformers applies to the rotary cos and sin tables (`attention_scaling`):
 * the YaRN or LongRoPE attention factor, 1 for the other types.
 *
 * @example
 * ```ts
 * ropeAttentionScaling(config.rope.full_attention); // yarn factor 4: 0.1 · ln 4 + 1 ≈ 1.1386
 * ```
 */
export function ropeAttentionScaling(rope: RopeConfig): number {
  return rope.attentionFactor ?? 1;
}

/**
 * Whether the frequencies of a forward covering `seqLength` positions differ from those at the
 * pretraining length (`dynamic` past `max_position_embeddings`, `longrope` past the original length).
 */
export function ropeDependsOnLength(rope: RopeConfig, seqLength: number): boolean {
  return (rope.type === 'dynamic' || rope.type === 'longrope') && seqLength > rope.originalMaxPositionEmbeddings;
}

/**
 * Dynamic NTK base `theta · (factor · L / max - (factor - 1)) ^ (d / (d - 2))` with `L` the
 * sequence length, at least `max_position_embeddings`. transformers computes it from the position
 * ids tensor, so in float32, one rounding per operation.
 */
function dynamicBase(rope: RopeConfig, headDim: number, seqLength: number | undefined): number {
  const max = rope.originalMaxPositionEmbeddings;
  const length = Math.max(seqLength ?? max, max);
  if (length === max) return rope.theta;
  const ratio = f(f(f(f(rope.factor) * length) / max) - f(rope.factor - 1));
  return f(f(rope.theta) * f(Math.pow(ratio, f(headDim / (headDim - 2)))));
}

function llama3Scale(inv: Float32Array, rope: RopeConfig): Float32Array {
  const old = rope.originalMaxPositionEmbeddings;
  const lowFreqWavelen = old / rope.lowFreqFactor;
  const highFreqWavelen = old / rope.highFreqFactor;
  return inv.map((x) => {
    const wavelen = f(f(2 * Math.PI) / x);
    const scaled = wavelen > lowFreqWavelen ? f(x / rope.factor) : x;
    const isMedium = !(wavelen < highFreqWavelen) && !(wavelen > lowFreqWavelen);
    if (!isMedium) return scaled;
    const smooth = f(f(f(old / wavelen) - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor));
    return f(f(f(f(1 - smooth) * scaled) / rope.factor) + f(smooth * scaled));
  });
}

/** YaRN (NTK-by-parts): interpolated low frequencies, extrapolated high ones, a linear ramp between. */
function yarnFrequencies(rope: RopeConfig, headDim: number): Float32Array {
  const half = headDim / 2;
  const correctionDim = (rotations: number) =>
    (headDim * Math.log(rope.originalMaxPositionEmbeddings / (rotations * 2 * Math.PI))) / (2 * Math.log(rope.theta));
  let low = correctionDim(rope.betaFast ?? 32);
  let high = correctionDim(rope.betaSlow ?? 1);
  if (rope.truncate ?? true) {
    low = Math.floor(low);
    high = Math.ceil(high);
  }
  low = Math.max(low, 0);
  high = Math.min(high, headDim - 1);
  if (low === high) high += 0.001; // transformers: "prevent singularity"
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const pos = f(Math.pow(rope.theta, f(f(2 * i) / headDim)));
    const extrapolation = f(1 / pos);
    const interpolation = f(1 / f(f(rope.factor) * pos));
    const ramp = Math.min(1, Math.max(0, f(f(i - f(low)) / f(high - low))));
    const extrapolationFactor = f(1 - ramp);
    inv[i] = f(f(interpolation * f(1 - extrapolationFactor)) + f(extrapolation * extrapolationFactor));
  }
  return inv;
}

/**
 * Rotary tables for positions `0 … length-1`, each `[length, headDim]`: `cos` (the half-dimension
 * frequencies repeated twice, HF's non-interleaved layout) and `sin` with its first half negated,
 * so that `rotate_half(x) · sin = roll(x) · sinSigned` (negation is exact in float32). Both are
 * multiplied by `scaling` (transformers' `attention_scaling`, see {@link ropeAttentionScaling}).
 * Row `p` equals what {@link ropeTablesForPositions} computes for position id `p`.
 */
export function ropeTablesForRange(invFreq: tf.Tensor1D, length: number, scaling = 1): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  return tf.tidy(() => ropeTablesForPositions(invFreq, tf.range(0, length, 1, 'float32') as tf.Tensor1D, scaling));
}

/**
 * {@link ropeTablesForRange} for the given positions only: `[N, headDim]` cos and signed sin of
 * `positions` `[N]` (float32 or int32) times `invFreq`, scaled by `scaling`.
 */
export function ropeTablesForPositions(invFreq: tf.Tensor1D, positions: tf.Tensor1D, scaling = 1): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  return tf.tidy(() => {
    const n = positions.shape[0];
    const freqs = tf.mul(tf.reshape(tf.cast(positions, 'float32'), [n, 1]), tf.reshape(invFreq, [1, -1]));
    let cos: tf.Tensor = tf.cos(tf.concat([freqs, freqs], -1));
    let sin: tf.Tensor = tf.sin(freqs);
    if (scaling !== 1) {
      cos = tf.mul(cos, scaling);
      sin = tf.mul(sin, scaling);
    }
    return { cos: cos as tf.Tensor2D, sin: tf.concat([tf.neg(sin), sin], -1) as tf.Tensor2D };
  });
}

/**
 * The permutation matrix that swaps the two halves of the head dimension, `[1, 1, D, D]` (ready to
 * broadcast over `[B, H, T, D]`): `(x P)[j] = x[(j + D/2) mod D]`. Symmetric (the swap is its own
 * inverse), and a product with it is exact (one term per output). On wasm one small flag-free
 * matmul is cheaper than a split + concat or a gather along the last axis.
 */
export function rotateHalfMatrix(headDim: number): tf.Tensor2D {
  const half = headDim / 2;
  const data = new Float32Array(headDim * headDim);
  for (let i = 0; i < headDim; i++) data[i * headDim + ((i + half) % headDim)] = 1;
  return tf.tensor2d(data, [headDim, headDim]);
}

/** Rows per leading index up to which the roll is one broadcast batched matmul (a decode step). */
const BROADCAST_MAX_ROWS = 8;

/**
 * Applies rotary embeddings to `x` `[B, H, T, headDim]` (or any layout whose last axis is the
 * head dimension) with `cos` and signed `sin` tables from {@link ropeTablesForRange}, broadcast
 * to `x`: `x · cos + roll(x) · sinSigned`, the roll being a product with `rotate`
 * ({@link rotateHalfMatrix}). A decode step uses one broadcast matmul; longer inputs a 2-D
 * flag-free one (wasm runs batched matmuls in a naive loop), with the gradient `dy P`. (Decode
 * steps of the decoders use `DecoderContext.ropeMatrix` instead: one matmul.)
 */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D, rotate: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const d = x.shape[3];
    // `rotate` is owned by the model (not this scope): the gradient closure may keep it.
    if (isRecordingGradients()) return ropeWithGradient(x, cos, sin, rotate);
    const rolled =
      x.shape[2] <= BROADCAST_MAX_ROWS
        ? tf.matMul(x, tf.reshape(rotate, [1, 1, d, d]) as tf.Tensor4D)
        : tf.reshape(tf.matMul(tf.reshape(x, [-1, d]) as tf.Tensor2D, rotate), x.shape);
    return tf.add(tf.mul(x, cos), tf.mul(rolled, sin));
  });
}

/** `t P` over the last axis through one flag-free 2-D matmul. */
function roll(t: tf.Tensor, rotate: tf.Tensor2D): tf.Tensor {
  const d = rotate.shape[0];
  return tf.reshape(tf.matMul(tf.reshape(t, [-1, d]) as tf.Tensor2D, rotate), t.shape);
}

/**
 * {@link applyRope} under a gradient tape, saving only the (small) tables: with `P` the symmetric
 * half-swap permutation, `y = x·cos + (x P)·sin` has `dx = dy·cos + (dy·sin) P`. Composing it from
 * tfjs ops would keep `x`, `x P` and both products (four activations per projection) alive until
 * the backward pass.
 */
function ropeWithGradient(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D, rotate: tf.Tensor2D): tf.Tensor4D {
  const run = customGrad<[tf.Tensor4D, tf.Tensor4D, tf.Tensor4D], tf.Tensor4D>(
    (input: tf.Tensor4D, c: tf.Tensor4D, s: tf.Tensor4D, save: tf.GradSaveFunc) => {
      save([c, s]);
      return {
        value: tf.tidy(() => tf.add(tf.mul(input, c), tf.mul(roll(input, rotate), s))),
        gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
          const [cs, ss] = saved as [tf.Tensor4D, tf.Tensor4D];
          return [tf.add(tf.mul(dy, cs), roll(tf.mul(dy, ss), rotate)), tf.zerosLike(cs), tf.zerosLike(ss)];
        },
      };
    },
  );
  return run(x, cos, sin);
}
