import { InvalidArgumentError } from '@lora/core';
import { GgmlType, ggmlTypeInfo } from '@lora/core/internal';
import * as tf from '@tensorflow/tfjs';
import { GGML_DEQUANTIZE, GGML_GATE_UP, GGML_MATMUL, GGML_MATMUL_N, inferenceKernel, MATMUL_N } from '../backend/native-kernel-names.js';
import { customGrad } from './custom-grad.js';
import { Linear, type LinearLike } from './linear.js';
import { isRecordingGradients } from './tape.js';

/** ggml block types the native kernels multiply by (sizes and names: `ggmlTypeInfo`). */
export const GGML_KERNEL_TYPES: ReadonlySet<number> = new Set([GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q8_0]);

/**
 * Rows of `x` up to which the fused kernel runs; above, the weight is dequantized once and
 * TensorFlow's own matmul takes the product (faster for training batches). Measured on a 2-core
 * EPYC (AVX-512), fused vs dequantize + matmul, SmolLM2's Q4_1 `[1536, 576]` gate: 8 rows 291 vs
 * 865 µs, 39 (a chat prompt) 607 vs 1215, 64 rows 779 vs 1383, 128 rows 1627 vs 1515.
 */
export const GGML_FUSED_MAX_ROWS = 64;

/**
 * A frozen linear layer whose weight stays in llama.cpp's (ggml's) blocks as a GGUF file stores it
 * — Q4_0, Q4_1 or Q8_0, 32 weights a block — and is multiplied by with @lora's native kernels
 * (`lora_ops.node`, tensorflow backend): 0.56–1.06 bytes per weight resident instead of 4, and
 * as many read per decoded token. Results equal the float32 layer's up to summation order: the
 * kernels dequantize exactly as gguf-py does.
 *
 * Up to 64 rows (decoding, prompts) go through the fused kernel; more rows dequantize the weight
 * (one native op) and use TensorFlow's matmul. Gradients flow to the input only (`dy · W`, the weight
 * dequantized again), so the layer can be the frozen base of a LoRA adapter.
 *
 * @example
 * ```ts
 * const layer = new GgmlLinear(blocks, 3, 576, 1536); // Q4_1 [1536, 576] from a GGUF file
 * const y = layer.apply(x); // [..., 1536]
 * ```
 */
export class GgmlLinear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: tf.Tensor1D | undefined;
  /** ggml type id of the blocks (2 Q4_0, 3 Q4_1, 8 Q8_0). */
  readonly ggmlType: number;
  /** The blocks, row `n` of the PyTorch `[out, in]` weight per row, as int32 words (little-endian bytes, rows zero-padded). */
  readonly blocks: tf.Tensor2D;
  private readonly attrs: { ggmlType: number; k: number };
  private readonly matMul: (x: tf.Tensor2D) => tf.Tensor2D;

  /**
   * @param bytes - the `[out, in]` weight's blocks as stored (`out` rows of `in / 32` blocks).
   * @param ggmlType - ggml type id (see {@link GGML_KERNEL_TYPES}).
   */
  constructor(
    bytes: Uint8Array,
    ggmlType: number,
    inFeatures: number,
    outFeatures: number,
    options: { bias?: tf.Tensor1D; name?: string } = {},
  ) {
    const name = options.name ?? 'linear';
    const info = GGML_KERNEL_TYPES.has(ggmlType) ? ggmlTypeInfo(ggmlType) : undefined;
    if (info === undefined) {
      throw new InvalidArgumentError({ argument: name, message: `ggml type ${ggmlType} has no native kernel (Q4_0, Q4_1, Q8_0 do).` });
    }
    const rowBytes = (inFeatures / info.blockSize) * info.typeSize;
    if (!Number.isInteger(inFeatures / info.blockSize) || bytes.byteLength !== rowBytes * outFeatures) {
      throw new InvalidArgumentError({
        argument: name,
        message: `${outFeatures}×${inFeatures} ${info.name} weights need ${rowBytes * outFeatures} bytes (in features a multiple of 32), got ${bytes.byteLength}.`,
      });
    }
    this.inFeatures = inFeatures;
    this.outFeatures = outFeatures;
    this.ggmlType = ggmlType;
    this.bias = options.bias;
    const words = Math.ceil(rowBytes / 4);
    const padded = new Uint8Array(outFeatures * words * 4);
    if (words * 4 === rowBytes) padded.set(bytes);
    else for (let r = 0; r < outFeatures; r++) padded.set(bytes.subarray(r * rowBytes, (r + 1) * rowBytes), r * words * 4);
    this.blocks = tf.tensor2d(new Int32Array(padded.buffer), [outFeatures, words], 'int32');
    this.attrs = { ggmlType, k: inFeatures };
    this.matMul = customGrad<[tf.Tensor2D], tf.Tensor2D>((x: tf.Tensor2D) => ({
      value: this.product(x),
      gradFunc: (dy: tf.Tensor2D) => tf.tidy(() => tf.matMul(dy, this.dequantize())),
    }));
  }

  /** The float32 `[out, in]` weight (caller disposes). */
  dequantize(): tf.Tensor2D {
    return tf.engine().runKernel(GGML_DEQUANTIZE, { blocks: this.blocks }, this.attrs) as tf.Tensor2D;
  }

  private product(x: tf.Tensor2D): tf.Tensor2D {
    if (x.shape[0] <= GGML_FUSED_MAX_ROWS) return tf.engine().runKernel(GGML_MATMUL, { x, blocks: this.blocks }, this.attrs) as tf.Tensor2D;
    return tf.tidy(() => tf.matMul(x, this.dequantize(), false, true));
  }

  apply(x: tf.Tensor): tf.Tensor {
    // The decoding case (flat rows, no bias, no tape) is one kernel: no scope needed.
    if (x.rank === 2 && this.bias === undefined && !isRecordingGradients()) return this.product(x as tf.Tensor2D);
    return tf.tidy(() => {
      const flat = x.rank === 2;
      const x2 = (flat ? x : x.reshape([-1, this.inFeatures])) as tf.Tensor2D;
      let y = isRecordingGradients() ? this.matMul(x2) : this.product(x2);
      if (this.bias !== undefined) y = tf.add(y, this.bias);
      return flat ? y : y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  denseWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.transpose(this.dequantize()));
  }

  dispose(): void {
    this.blocks.dispose();
    this.bias?.dispose();
  }
}

/**
 * Applies several linear layers to the same `[rows, in]` input (a layer's q, k and v, or gate and
 * up). When all are bias-free {@link GgmlLinear}s of one ggml type, the rows are few and no tape
 * records, they run as one native op (one dispatch and one pass over the thread pool instead of
 * one each), with the values of each alone. Frozen bias-free float32 {@link Linear}s do the same
 * through `LoraMatMulN` when decoding with small weights (≤ 8 rows, ≤ 64K weights in all, outside
 * any gradient computation), summing in another order than TensorFlow's matmul (float32 rounding). Otherwise each layer applies itself.
 */
export function applyLinears(x: tf.Tensor2D, layers: readonly LinearLike[]): tf.Tensor2D[] {
  const first = layers[0];
  if (
    first instanceof GgmlLinear &&
    layers.length > 1 &&
    x.shape[0] <= GGML_FUSED_MAX_ROWS &&
    !isRecordingGradients() &&
    layers.every(
      (l) => l instanceof GgmlLinear && l.bias === undefined && l.ggmlType === first.ggmlType && l.inFeatures === first.inFeatures,
    )
  ) {
    const inputs: tf.NamedTensorMap = { x };
    layers.forEach((l, i) => {
      inputs[`blocks${i}`] = (l as GgmlLinear).blocks;
    });
    return tf
      .engine()
      .runKernel(GGML_MATMUL_N, inputs, { n: layers.length, ggmlType: first.ggmlType, k: first.inFeatures }) as tf.Tensor2D[];
  }
  if (
    first instanceof Linear &&
    layers.length > 1 &&
    x.shape[0] <= DENSE_FUSED_MAX_ROWS &&
    inferenceKernel(MATMUL_N) &&
    layers.every((l) => l instanceof Linear && l.bias === undefined && l.trainableVariables().length === 0) &&
    layers.reduce((n, l) => n + l.inFeatures * l.outFeatures, 0) <= DENSE_FUSED_MAX_WEIGHTS
  ) {
    const inputs: tf.NamedTensorMap = { x };
    layers.forEach((l, i) => {
      inputs[`w${i}`] = (l as Linear).weight;
    });
    return tf.engine().runKernel(MATMUL_N, inputs, { n: layers.length }) as tf.Tensor2D[];
  }
  return layers.map((l) => l.apply(x) as tf.Tensor2D);
}

/** Rows up to which frozen float32 layers sharing an input run as one native op (decoding). */
const DENSE_FUSED_MAX_ROWS = 8;

/**
 * Most weights (all layers together) for that: where dispatch costs more than the product. Larger
 * products stay with TensorFlow's matmul, whose threaded GEMV is faster: W4's d512 model (q/k/v
 * 786K weights) decoded at 0.93× PyTorch through `LoraMatMulN` against 1.08× without.
 */
const DENSE_FUSED_MAX_WEIGHTS = 1 << 16;

/**
 * `silu(gate(x)) · up(x)` as one native op (`LoraGgmlGateUp`) when both are bias-free
 * {@link GgmlLinear}s of one type, `x` has at most {@link GGML_FUSED_MAX_ROWS} rows and no gradient
 * is being computed; undefined otherwise (the gated MLP then runs its usual ops). The values are
 * those of `LoraGgmlMatMulN` followed by `LoraSiluMul`.
 */
export function ggmlGateUp(x: tf.Tensor, gate: LinearLike, up: LinearLike): tf.Tensor2D | undefined {
  if (
    !(gate instanceof GgmlLinear) ||
    !(up instanceof GgmlLinear) ||
    x.rank !== 2 ||
    (x.shape[0] as number) > GGML_FUSED_MAX_ROWS ||
    gate.bias !== undefined ||
    up.bias !== undefined ||
    gate.ggmlType !== up.ggmlType ||
    gate.inFeatures !== up.inFeatures ||
    !inferenceKernel(GGML_GATE_UP)
  ) {
    return undefined;
  }
  return tf
    .engine()
    .runKernel(GGML_GATE_UP, { x, gate: gate.blocks, up: up.blocks }, { ggmlType: gate.ggmlType, k: gate.inFeatures }) as tf.Tensor2D;
}
