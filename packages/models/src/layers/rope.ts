import * as tf from '@tensorflow/tfjs';
import type { RopeConfig } from '../config/model-config.js';

const f = Math.fround;

/**
 * Inverse frequencies `[headDim / 2]` for rotary embeddings, computed step by step in float32
 * like transformers' rope initialisers (`default`, `linear`, `llama3`).
 */
export function ropeInverseFrequencies(rope: RopeConfig, headDim: number): Float32Array {
  const half = headDim / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) {
    const exponent = f(f(2 * i) / headDim);
    inv[i] = f(1 / f(Math.pow(rope.theta, exponent)));
  }
  if (rope.type === 'linear') return inv.map((x) => f(x / rope.factor));
  if (rope.type === 'llama3') return llama3Scale(inv, rope);
  return inv;
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

/**
 * Cos/sin tables for the given positions: each `[B, 1, T, headDim]` (the half-dimension
 * frequencies repeated twice, HF's non-interleaved layout).
 */
export function ropeTables(invFreq: tf.Tensor1D, positionIds: tf.Tensor2D): { cos: tf.Tensor4D; sin: tf.Tensor4D } {
  return tf.tidy(() => {
    const [b, t] = positionIds.shape;
    const freqs = tf.mul(tf.reshape(tf.cast(positionIds, 'float32'), [b, t, 1]), tf.reshape(invFreq, [1, 1, -1]));
    const emb = tf.concat([freqs, freqs], -1).expandDims(1) as tf.Tensor4D;
    return { cos: tf.cos(emb), sin: tf.sin(emb) };
  });
}

/** Applies rotary embeddings to `x` `[B, H, T, headDim]` with tables from {@link ropeTables}. */
export function applyRope(x: tf.Tensor4D, cos: tf.Tensor4D, sin: tf.Tensor4D): tf.Tensor4D {
  return tf.tidy(() => {
    const half = x.shape[3] / 2;
    const [x1, x2] = tf.split(x, [half, half], -1) as [tf.Tensor4D, tf.Tensor4D];
    const rotated = tf.concat([tf.neg(x2), x1], -1);
    return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
  });
}
