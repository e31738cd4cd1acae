import * as tf from '@tensorflow/tfjs';
import { ATTENTION, ATTENTION_GRAD, nativeKernel, ROPE_ATTENTION, ROPE_ATTENTION_GRAD } from '../backend/native-kernel-names.js';
import { customGrad } from './custom-grad.js';
import { fastFlaggedMatMul, isRecordingGradients } from './tape.js';

/** Options of {@link scaledDotProductAttention}. */
export interface AttentionOptions {
  /** Multiplier of `q·k` (usually `headDim ** -0.5`). */
  scale: number;
  /**
   * Additive mask `[B or 1, 1, T, S]` (see `attentionMask`); `undefined` when every query sees
   * every key (a decode step without padding), which skips the addition.
   */
  mask: tf.Tensor4D | undefined;
  /** Gemma soft-capping of scores: `tanh(s / c) * c` before masking. */
  softcap?: number | undefined;
  /**
   * The mask is causal (query `i` never sees keys after position `offset + i`; segments and
   * windows only remove more) and no query row is fully masked (no padding: every query sees at
   * least itself). Long training inputs then split the queries in two blocks and skip the first
   * block's all-masked keys (a quarter of the score work); the results equal the unsplit ones up
   * to float32 summation order. (A fully masked row would be uniform over all keys unsplit but
   * over the block's keys split — hence the condition.)
   */
  causal?: boolean;
}

/** Query length from which causal training attention runs in two query blocks. */
const CAUSAL_SPLIT_MIN_LENGTH = 128;

/**
 * Query rows per key/value group from which the per-group 2-D matmul path is used. Below it (a
 * decode step) one batched matmul costs less than the per-group kernel dispatches.
 */
const GROUPED_MIN_ROWS = 8;

/**
 * Grouped-query attention: `q` `[B, H, T, D]`, `k`/`v` `[B, KV, S, D]` with `H` a multiple of
 * `KV`; returns `[B, H, T, D]`. Query head `h` reads key/value head `floor(h / (H / KV))`, as
 * transformers' `repeat_kv` does, but without copying keys: the query heads of a group are folded
 * into the row axis.
 */
export function scaledDotProductAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, options: AttentionOptions): tf.Tensor4D {
  return tf.tidy(() => {
    const [b, h, t, d] = q.shape;
    const kv = k.shape[1];
    const out = groupedQueryAttention(tf.reshape(q, [b, kv, (h / kv) * t, d]), k, v, t, options);
    return tf.reshape(out, [b, h, t, d]);
  });
}

/**
 * The core of {@link scaledDotProductAttention} on queries already folded per key/value group:
 * `qg` `[B, KV, rep·T, D]` (row `r·T + i` is query `i` of head `kv·rep + r`), `k`/`v`
 * `[B, KV, S, D]`; returns `[B, KV, rep·T, D]` in the same layout.
 *
 * On backends with fast batched and transposed matmuls (tensorflow, webgpu, cpu; see
 * `fastFlaggedMatMul`) the products are one `BatchMatMul` each with a transpose flag, and the
 * gradient is tfjs's. On wasm those fall back to a naive loop (docs/architecture.md), so for prefill and
 * training the products run as one flag-free 2-D matmul per group, with transposes materialised and
 * a hand-written gradient that keeps every backward matmul flag-free as well; a decode step (few
 * rows) keeps the single batched matmul there, cheaper than many dispatches.
 */
export function groupedQueryAttention(
  qg: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  queryLength: number,
  options: AttentionOptions,
): tf.Tensor4D {
  return tf.tidy(() => {
    const rows = qg.shape[2];
    if (options.softcap === undefined && queryLength > 1 && nativeKernel(ATTENTION)) return nativeAttention(qg, k, v, queryLength, options);
    if (fastFlaggedMatMul() && options.softcap === undefined && isRecordingGradients()) {
      if (options.causal === true && queryLength >= CAUSAL_SPLIT_MIN_LENGTH) return causalQueryBlocks(qg, k, v, queryLength, options);
      return batchedAttentionWithGradient(qg, k, v, queryLength, options);
    }
    if (options.softcap !== undefined || rows < GROUPED_MIN_ROWS || fastFlaggedMatMul())
      return batchedAttention(qg, k, v, queryLength, options);
    if (!isRecordingGradients()) return perGroupForward(qg, k, v, queryLength, options).out;
    const run = customGrad<[tf.Tensor4D, tf.Tensor4D, tf.Tensor4D], tf.Tensor4D>(
      (qIn: tf.Tensor4D, kIn: tf.Tensor4D, vIn: tf.Tensor4D, save: tf.GradSaveFunc) => {
        const { out, q3, k3, v3, probs } = perGroupForward(qIn, kIn, vIn, queryLength, options);
        save([q3, k3, v3, ...probs]);
        return {
          value: out,
          gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
            const [qs, ks, vs, ...p] = saved as tf.Tensor2D[] as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D, ...tf.Tensor2D[]];
            const [g, r, d] = qs.shape;
            const dOut = tf.reshape(dy, [g, r, d]) as tf.Tensor3D;
            const dOuts = splitGroups(dOut);
            const dOutsT = splitGroups(transpose3d(dOut));
            const vsT = splitGroups(transpose3d(vs));
            const kss = splitGroups(ks);
            const qsT = splitGroups(transpose3d(qs));
            const dQ: tf.Tensor2D[] = [];
            const dKT: tf.Tensor2D[] = [];
            const dVT: tf.Tensor2D[] = [];
            for (let i = 0; i < g; i++) {
              const pi = p[i] as tf.Tensor2D;
              const dProbs = tf.matMul(dOuts[i] as tf.Tensor2D, vsT[i] as tf.Tensor2D);
              dVT.push(tf.matMul(dOutsT[i] as tf.Tensor2D, pi));
              // Softmax backward: p ⊙ (dp − Σ dp⊙p); the score scale is applied to dQ below (the
              // forward scaled the queries, not the [rows, S] scores).
              const dScores = tf.mul(pi, tf.sub(dProbs, tf.sum(tf.mul(dProbs, pi), -1, true))) as tf.Tensor2D;
              dQ.push(tf.matMul(dScores, kss[i] as tf.Tensor2D));
              dKT.push(tf.matMul(qsT[i] as tf.Tensor2D, dScores));
            }
            return [
              tf.reshape(options.scale === 1 ? tf.stack(dQ) : tf.mul(tf.stack(dQ), options.scale), qIn.shape),
              tf.reshape(transpose3d(tf.stack(dKT) as tf.Tensor3D), kIn.shape),
              tf.reshape(transpose3d(tf.stack(dVT) as tf.Tensor3D), vIn.shape),
            ];
          },
        };
      },
    );
    return run(qg, k, v);
  });
}

/**
 * `lora_ops.node`'s `LoraAttention` (tensorflow backend, native kernels built): the whole attention
 * in one op that never forms the `[B, KV, rows, S]` scores, and under a tape its gradient in one
 * `LoraAttentionGrad` op that recomputes them block by block from the rows' softmax statistics
 * (saved by the forward). With `causal` the op skips the keys after each query, as the query blocks of
 * {@link causalQueryBlocks} do.
 */
function nativeAttention(qg: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, queryLength: number, options: AttentionOptions): tf.Tensor4D {
  const mask = options.mask;
  const attrs = { scale: options.scale, queryLength, hasMask: mask !== undefined, causal: options.causal === true };
  return attentionKernels([ATTENTION, ATTENTION_GRAD], [qg, k, v], mask === undefined ? {} : { mask }, attrs);
}

/**
 * Runs a native attention op (`kernels[0]`) on `q`, `k`, `v` and the `extra` inputs (mask, rotary
 * tables) and, under a tape, pairs it with its gradient op (`kernels[1]`), which gets the same
 * inputs plus the forward's `out` and `stats` and the output gradient `dOut`. Outside a tape the
 * forward's `stats` are dropped.
 */
function attentionKernels<T extends tf.Tensor>(
  kernels: readonly [string, string],
  qkv: [T, tf.Tensor, tf.Tensor],
  extra: tf.NamedTensorMap,
  attrs: tf.NamedAttrMap,
): T {
  const names = Object.keys(extra);
  const forward = (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor) =>
    tf.engine().runKernel(kernels[0], { q, k, v, ...extra }, attrs) as [T, tf.Tensor];
  if (!isRecordingGradients()) {
    const [out, stats] = forward(...qkv);
    stats.dispose();
    return out;
  }
  const run = customGrad<[T, tf.Tensor, tf.Tensor], T>((qIn: T, kIn: tf.Tensor, vIn: tf.Tensor, save: tf.GradSaveFunc) => {
    const [out, stats] = forward(qIn, kIn, vIn);
    // The extra inputs too: the engine keeps saved tensors alive until the backward pass.
    save([qIn, kIn, vIn, out, stats, ...names.map((n) => extra[n] as tf.Tensor)]);
    return {
      value: out,
      gradFunc: (dy: T, saved: tf.Tensor[]) => {
        const [q, k, v, o, st, ...rest] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, ...tf.Tensor[]];
        const savedExtra = Object.fromEntries(names.map((n, i) => [n, rest[i] as tf.Tensor]));
        return tf.engine().runKernel(kernels[1], { q, k, v, ...savedExtra, out: o, stats: st, dOut: dy }, attrs) as tf.Tensor[];
      },
    };
  });
  return run(...qkv);
}

/** Inputs of {@link ropeAttention}. */
export interface RopeAttentionInputs {
  /** Query rows `[B·T, H·D]`, key and value rows `[B·T, KV·D]` (the projections' outputs). */
  q: tf.Tensor2D;
  k: tf.Tensor2D;
  v: tf.Tensor2D;
  /** Rotary tables `[B, 1, T, D]` (`DecoderContext.cos` / `.sin`: the signed sin). */
  cos: tf.Tensor4D;
  sin: tf.Tensor4D;
  heads: number;
  kvHeads: number;
  queryLength: number;
}

/**
 * Self-attention without a cache from the projections' rows to `o_proj`'s input rows `[B·T, H·D]`
 * in one native op each way (`LoraRopeAttention` / `LoraRopeAttentionGrad`): the rotary embedding
 * of `applyRope`, the head layout and grouped-query attention. `undefined` where the kernels are
 * not registered or the options need the tfjs path (soft-capping); the caller then runs it.
 */
export function ropeAttention(inputs: RopeAttentionInputs, options: AttentionOptions): tf.Tensor2D | undefined {
  if (options.softcap !== undefined || inputs.queryLength < 2 || !nativeKernel(ROPE_ATTENTION)) return undefined;
  const { cos, sin, heads, kvHeads, queryLength } = inputs;
  const mask = options.mask;
  const attrs = { scale: options.scale, queryLength, hasMask: mask !== undefined, causal: options.causal === true, heads, kvHeads };
  const extra = { cos, sin, ...(mask === undefined ? {} : { mask }) };
  return attentionKernels([ROPE_ATTENTION, ROPE_ATTENTION_GRAD], [inputs.q, inputs.k, inputs.v], extra, attrs);
}

/** One batched matmul with a transposed operand (any backend but wasm; on wasm: decode steps, softcapping). */
function batchedAttention(qg: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, queryLength: number, options: AttentionOptions): tf.Tensor4D {
  // Scaling the queries ([.., rows, D]) instead of the scores ([.., rows, S]) saves a pass over the
  // largest tensor of attention, forward and backward.
  let scores = tf.matMul(options.scale === 1 ? qg : tf.mul(qg, options.scale), k, false, true) as tf.Tensor4D;
  if (options.softcap !== undefined) scores = tf.mul(tf.tanh(tf.div(scores, options.softcap)), options.softcap) as tf.Tensor4D;
  const probs = tf.softmax(addMask(scores, options.mask, queryLength), -1);
  return tf.matMul(probs, v);
}

/**
 * {@link batchedAttention} (no softcap) with a hand-written gradient for backends with fast
 * flagged matmuls. tfjs's own gradient of `probs · v` and `q · kᵀ` computes `dV = probsᵀ · dOut`
 * and `dK = dScoresᵀ · q`, transposing the largest operand (`[.., rows, S]`) inside the matmul —
 * 3.1 ms for `[32, 512, 256]ᵀ × [32, 512, 8]` on tensorflow, where `(dOutᵀ · probs)ᵀ` takes 0.9 ms
 * plus a transpose of the small `[.., D, S]` result. The softmax backward is `p ⊙ (dp − Σ dp ⊙ p)`.
 */
function batchedAttentionWithGradient(
  qg: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  queryLength: number,
  options: AttentionOptions,
): tf.Tensor4D {
  const scale = options.scale;
  const run = customGrad<[tf.Tensor4D, tf.Tensor4D, tf.Tensor4D], tf.Tensor4D>(
    (qIn: tf.Tensor4D, kIn: tf.Tensor4D, vIn: tf.Tensor4D, save: tf.GradSaveFunc) => {
      const qs = scale === 1 ? qIn : (tf.mul(qIn, scale) as tf.Tensor4D);
      const probs = tf.softmax(addMask(tf.matMul(qs, kIn, false, true), options.mask, queryLength), -1);
      save([qs, kIn, vIn, probs]);
      return {
        value: tf.matMul(probs, vIn),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const [q4, k4, v4, p] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
          const dOut = dy as tf.Tensor4D;
          const dProbs = tf.matMul(dOut, v4, false, true);
          const dScores = tf.mul(p, tf.sub(dProbs, tf.sum(tf.mul(dProbs, p), -1, true)));
          const dQ = tf.matMul(dScores, k4);
          return [
            scale === 1 ? dQ : tf.mul(dQ, scale),
            tf.transpose(tf.matMul(q4, dScores, true, false), [0, 1, 3, 2]),
            tf.transpose(tf.matMul(dOut, p, true, false), [0, 1, 3, 2]),
          ];
        },
      };
    },
  );
  return run(qg, k, v);
}

/**
 * Causal attention in two query blocks: queries `[0, T/2)` attend to keys `[0, offset + T/2)` only,
 * the rest to all `S` keys, so the first block's scores (all masked beyond that) are never formed.
 * Each block is {@link batchedAttentionWithGradient}; slices and the final concat differentiate
 * through tfjs. Every tensor stays at rank ≤ 4: the gradient of a slice is a pad of the same rank,
 * and tfjs-backend-webgpu 4.22's rank-5 pad shader does not compile (`vec5` in its WGSL), which
 * drops the whole command buffer (seen on an NVIDIA H200 through Dawn/Vulkan).
 */
function causalQueryBlocks(qg: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, queryLength: number, options: AttentionOptions): tf.Tensor4D {
  const [b, kv, rows, d] = qg.shape;
  const rep = rows / queryLength;
  const s = k.shape[2];
  const offset = s - queryLength;
  const half = Math.floor(queryLength / 2);
  const q4 = tf.reshape(qg, [b * kv, rep, queryLength, d]);
  const outs: tf.Tensor[] = [];
  for (const [start, end] of [
    [0, half],
    [half, queryLength],
  ] as const) {
    const length = end - start;
    const keys = offset + end;
    const qb = tf.reshape(tf.slice(q4, [0, 0, start, 0], [-1, -1, length, -1]), [b, kv, rep * length, d]) as tf.Tensor4D;
    const kb = keys === s ? k : (tf.slice(k, [0, 0, 0, 0], [-1, -1, keys, -1]) as tf.Tensor4D);
    const vb = keys === s ? v : (tf.slice(v, [0, 0, 0, 0], [-1, -1, keys, -1]) as tf.Tensor4D);
    const mask = options.mask === undefined ? undefined : (tf.slice(options.mask, [0, 0, start, 0], [-1, -1, length, keys]) as tf.Tensor4D);
    const out = batchedAttentionWithGradient(qb, kb, vb, length, { ...options, mask });
    outs.push(tf.reshape(out, [b * kv, rep, length, d]));
  }
  return tf.reshape(tf.concat(outs, 2), [b, kv, rows, d]) as tf.Tensor4D;
}

/**
 * Per group `i` (= `b·KV + kv`): `probs_i = softmax((scale · q_i) k_iᵀ + mask_b)`, `out_i = probs_i v_i`,
 * each product a 2-D matmul. Softmax and masking run per group too: slicing one big
 * `[G, rows, S]` tensor costs a full copy of it per slice on wasm, a few small dispatches do not.
 */
function perGroupForward(
  qg: tf.Tensor4D,
  k: tf.Tensor4D,
  v: tf.Tensor4D,
  queryLength: number,
  options: AttentionOptions,
): { out: tf.Tensor4D; q3: tf.Tensor3D; k3: tf.Tensor3D; v3: tf.Tensor3D; probs: tf.Tensor2D[] } {
  const [b, kv, r, d] = qg.shape;
  const s = k.shape[2];
  const g = b * kv;
  const q3 = (options.scale === 1 ? tf.reshape(qg, [g, r, d]) : tf.mul(tf.reshape(qg, [g, r, d]), options.scale)) as tf.Tensor3D;
  const k3 = tf.reshape(k, [g, s, d]) as tf.Tensor3D;
  const v3 = tf.reshape(v, [g, s, d]) as tf.Tensor3D;
  const qs = splitGroups(q3);
  const ksT = splitGroups(transpose3d(k3));
  const vs = splitGroups(v3);
  const masks = groupMasks(options.mask, b, r, queryLength);
  const probs: tf.Tensor2D[] = [];
  const outs: tf.Tensor2D[] = [];
  for (let i = 0; i < g; i++) {
    let scores: tf.Tensor2D = tf.matMul(qs[i] as tf.Tensor2D, ksT[i] as tf.Tensor2D);
    const mask = masks[Math.floor(i / kv)];
    if (mask !== undefined) scores = tf.add(scores, mask);
    const p = tf.softmax(scores, -1);
    probs.push(p);
    outs.push(tf.matMul(p, vs[i] as tf.Tensor2D));
  }
  const out = tf.reshape(tf.stack(outs), [b, kv, r, d]) as tf.Tensor4D;
  return { out, q3, k3, v3, probs };
}

/** Per batch row, the `[rows, S]` mask of a group (the `[T, S]` mask repeated for the folded heads). */
function groupMasks(mask: tf.Tensor4D | undefined, batch: number, rows: number, queryLength: number): (tf.Tensor2D | undefined)[] {
  if (mask === undefined) return [];
  const [mb, , t, s] = mask.shape;
  const perRow = mb === 1 ? [tf.reshape(mask, [t, s]) as tf.Tensor2D] : splitGroups(tf.reshape(mask, [mb, t, s]) as tf.Tensor3D);
  const tiled = perRow.map((m) => (rows === queryLength ? m : tf.tile(m, [rows / queryLength, 1])));
  return Array.from({ length: batch }, (_, b) => tiled[mb === 1 ? 0 : b]);
}

/**
 * `[G, M, N]` → `G` tensors `[M, N]`, by halving: a wasm slice copies its whole input, so `G`
 * direct slices would cost `G` full copies where halving costs `2·log2(G)`.
 */
function splitGroups(x: tf.Tensor3D): tf.Tensor2D[] {
  const [g, m, n] = x.shape;
  if (g === 1) return [tf.reshape(x, [m, n])];
  const left = Math.floor(g / 2);
  const [a, b] = tf.split(x, [left, g - left], 0) as [tf.Tensor3D, tf.Tensor3D];
  return [...splitGroups(a), ...splitGroups(b)];
}

/** Adds the `[B or 1, 1, T, S]` mask to grouped scores `[B, KV, rep·T, S]`. */
function addMask(scores: tf.Tensor4D, mask: tf.Tensor4D | undefined, queryLength: number): tf.Tensor4D {
  if (mask === undefined) return scores;
  const [b, kv, r, s] = scores.shape;
  if (r === queryLength) return tf.add(scores, mask);
  const rep = r / queryLength;
  const masked = tf.add(tf.reshape(scores, [b, kv, rep, queryLength, s]), tf.reshape(mask, [mask.shape[0], 1, 1, queryLength, s]));
  return tf.reshape(masked, [b, kv, r, s]);
}

function transpose3d(x: tf.Tensor3D): tf.Tensor3D {
  return tf.transpose(x, [0, 2, 1]);
}
