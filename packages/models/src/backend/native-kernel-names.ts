import * as tf from '@tensorflow/tfjs';
import { insideGradientComputation } from '../layers/tape.js';

/**
 * Names of the tfjs kernels that `native-ops.ts` registers on the `tensorflow` backend from
 * `lora_ops.node`, in a module of their own so that browser builds can test for a kernel
 * (`tf.getKernel(name, tf.getBackend())`) without importing the Node loader.
 */

/**
 * `LoraNf4Dequantize`: an `Nf4Linear` base (32-bit byte-plane words) to its float32 `[rows, cols]`
 * weight in one pass, bit-identical to `Nf4Linear`'s tfjs ops. Inputs `{words, code, absmax}`
 * (float32 absmax), or `{words, code, nestedAbsmax, offset, nestedMap}` with double quantization
 * (the 8-bit absmax codes follow the 4-bit codes in `words`); attrs `{rows, cols, blocksize}`, plus
 * `nestedBlocksize` with double quantization. See `tools/tfjs-node/ops/nf4.cc`.
 */
export const NF4_DEQUANTIZE = 'LoraNf4Dequantize';

/** `LoraGgmlMatMul` `{x, blocks}`, attrs `{ggmlType, k}`: `x · dequant(blocks)ᵀ` over GGUF Q4_0 / Q4_1 / Q8_0 blocks (`GgmlLinear`). */
export const GGML_MATMUL = 'LoraGgmlMatMul';
/** `LoraGgmlMatMulN` `{x, blocks0, …}`, attrs `{n, ggmlType, k}`: n such products sharing `x`, one output each. */
export const GGML_MATMUL_N = 'LoraGgmlMatMulN';
/** `LoraGgmlGateUp` `{x, gate, up}`, attrs `{ggmlType, k}`: `silu(x · Gᵀ) · (x · Uᵀ)`, the gated MLP's hidden state in one op (no gradient). */
export const GGML_GATE_UP = 'LoraGgmlGateUp';
/** `LoraGgmlDequantize` `{blocks}`, attrs `{ggmlType, k}`: the float32 `[out, in]` weight, bit for bit as gguf-py. */
export const GGML_DEQUANTIZE = 'LoraGgmlDequantize';
/** `LoraRmsNorm` `{x, scale}`, attrs `{eps}`: `x · rsqrt(mean(x²) + eps) · scale` in one op (its gradient is {@link RMS_NORM_GRAD}). */
export const RMS_NORM = 'LoraRmsNorm';
/** `LoraRmsNormGrad` `{x, scale, dy}`, attrs `{eps}`: the gradient of {@link RMS_NORM} for `x` (the scale is frozen). */
export const RMS_NORM_GRAD = 'LoraRmsNormGrad';
/** `LoraSiluMul` `{g, u}`: `g · sigmoid(g) · u` in one op (its gradient is {@link SILU_MUL_GRAD}). */
export const SILU_MUL = 'LoraSiluMul';
/** `LoraSiluMulGrad` `{g, u, dy}`: `[dg, du]`, the gradients of {@link SILU_MUL}. */
export const SILU_MUL_GRAD = 'LoraSiluMulGrad';

/**
 * `LoraDecodeAttention` `{q, k, v, qRot, kRot, keys, values}`, attrs `{heads, kvHeads}`: one decoding
 * step's attention (rotate, append to the cache, grouped-query attention), outputs
 * `[out, keys', values']` (no gradient; one query per row, no mask).
 */
export const DECODE_ATTENTION = 'LoraDecodeAttention';

/** `LoraAddRmsNorm` `{x, delta, scale}`, attrs `{eps}`: `[h, y]` with `h = x + delta`, `y = RMSNorm(h)` (no gradient). */
export const ADD_RMS_NORM = 'LoraAddRmsNorm';
/** `LoraMatMulN` `{x, w0, …}`, attrs `{n}`: `x · w_i` for float32 `[in, out]` weights sharing `x` (no gradient). */
export const MATMUL_N = 'LoraMatMulN';

/**
 * `LoraAttention` `{q, k, v, mask?}`, attrs `{scale, queryLength, causal}`: grouped-query attention
 * over a whole sequence (prefill, training, scoring) in one op, queries in the grouped layout
 * `[B, KV, rep·T, D]` of `groupedQueryAttention`; outputs `[out, stats]` (per row the maximum score
 * and the softmax denominator, which the backward op needs). The score matrix never exists as a tensor.
 */
export const ATTENTION = 'LoraAttention';
/**
 * `LoraAttentionGrad` `{q, k, v, mask?, out, stats, dOut}`, same attrs: the gradients `[dq, dk, dv]`
 * of {@link ATTENTION}, recomputing the probabilities block by block from `stats`.
 */
export const ATTENTION_GRAD = 'LoraAttentionGrad';
/**
 * `LoraRopeAttention` `{q, k, v, cos, sin, mask?}`, attrs `{scale, queryLength, causal, heads, kvHeads}`:
 * {@link ATTENTION} on the projections' rows (`q` `[B·T, H·D]`, `k`/`v` `[B·T, KV·D]`) with the
 * rotary embedding (`cos`/`sin` `[B, 1, T, D]`, see `applyRope`) applied on the way in and the
 * output in `o_proj`'s rows `[B·T, H·D]`: no head transposes, no rotation ops. Self-attention
 * without a cache (training, scoring). Outputs `[out, stats]`.
 */
export const ROPE_ATTENTION = 'LoraRopeAttention';
/** `LoraRopeAttentionGrad` `{q, k, v, cos, sin, mask?, out, stats, dOut}`, same attrs: `[dq, dk, dv]` of {@link ROPE_ATTENTION}. */
export const ROPE_ATTENTION_GRAD = 'LoraRopeAttentionGrad';

/**
 * `LoraLinear` `{x, xl?, w, a, b, bias?}`, attrs `{scale, hasBias}`: a frozen float32 base and one
 * LoRA adapter, `(x · w + bias) + ((xl · a) · b) · scale` with `xl` the adapter's input (`x`, or
 * `x` after dropout), in one op; outputs `[y, xa]` (`xl · a`, which the backward needs). Rows in
 * fixed chunks: results do not depend on thread scheduling.
 */
export const LORA_LINEAR = 'LoraLinear';
/**
 * `LoraLinearGrad` `{xl, w, a, b, xa, dy}`, attrs `{scale, split}`: `[dx, dxl, da, db]` of
 * {@link LORA_LINEAR}; without `split` (`xl` is `x`) `dx` holds both paths and `dxl` is empty.
 */
export const LORA_LINEAR_GRAD = 'LoraLinearGrad';

/**
 * `LoraAdamStep` `{param, expAvg, expAvgSq, grad}`, attrs `{oneMinusBeta1, beta2, oneMinusBeta2,
 * bias2Sqrt, eps, negStepSize, weightDecay, decayFactor, mode}` (mode 0 none, 1 L2, 2 decoupled):
 * one Adam(W) update of a variable in one op, outputs `[param', expAvg', expAvgSq']`, rounded as
 * `@lora/train`'s tfjs ops round them.
 */
export const ADAM_STEP = 'LoraAdamStep';

/** Whether `kernel` (one of lora_ops.node's) runs on the active backend; layers fall back to tfjs ops when not. */
export function nativeKernel(kernel: string): boolean {
  return tf.getKernel(kernel, tf.getBackend()) !== undefined;
}

/**
 * Whether an inference-only kernel of lora_ops.node (no gradient) may run now: it is registered on
 * the active backend and no gradient computation is under way (`insideGradientComputation`, which
 * also covers a recording tape), so a training step never takes it.
 */
export function inferenceKernel(kernel: string): boolean {
  return !insideGradientComputation() && nativeKernel(kernel);
}

/** Whether the ggml kernels can run on the active backend. */
export function ggmlKernelsActive(): boolean {
  return nativeKernel(GGML_MATMUL);
}
