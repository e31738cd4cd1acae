import { InvalidArgumentError } from '@lora/core';
import { fastFlaggedMatMul, type LinearLike } from '@lora/models';
import * as tf from '@tensorflow/tfjs';
import { blockCount, compressAbsmax, decompressAbsmax, quantize4bit } from './blockwise.js';
import type { QuantType } from './codebooks/codebooks.js';
import { defaultMaps, type QuantState } from './format.js';
import { bnbBytesToCodes, codesToBnbBytes, lookupWords, NIBBLES_PER_WORD, packWords, tripleTable, unpackWords } from './pack.js';

/** Options of {@link Nf4Linear.quantize}. */
export interface QuantizeLinearOptions {
  /** `nf4` (default) or `fp4`. */
  quantType?: QuantType;
  /** Elements per absmax block (32…4096), default 64. */
  blocksize?: number;
  /** Double quantization of absmax (bitsandbytes' `compress_statistics`), default true. */
  doubleQuant?: boolean;
  /** Bias `[out]` (the layer takes ownership). */
  bias?: tf.Tensor1D;
  /** The module path, for error messages and variable names. */
  name?: string;
}

type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * The `[4096, 3]` look-up tables of `lookupWords`, shared by every layer with the same code map on
 * the same backend (48 KiB each) and freed when the last of them is disposed.
 */
const tripleTables = new Map<string, { table: tf.Tensor2D; users: number }>();

function tableKey(map: ArrayLike<number>): string {
  return `${tf.getBackend()}:${Array.from(map).join(',')}`;
}

function acquireTripleTable(map: ArrayLike<number>): tf.Tensor2D {
  const key = tableKey(map);
  let entry = tripleTables.get(key);
  if (entry === undefined || entry.table.isDisposed) {
    entry = { table: tf.tensor2d(tripleTable(map), [4096, 3]), users: 0 };
    tripleTables.set(key, entry);
  }
  entry.users++;
  return entry.table;
}

function releaseTripleTable(map: ArrayLike<number>, table: tf.Tensor2D): void {
  const key = tableKey(map);
  const entry = tripleTables.get(key);
  if (entry === undefined || entry.table !== table) {
    // Registered under another backend, or already replaced: free it if it is ours alone.
    if (!table.isDisposed && ![...tripleTables.values()].some((e) => e.table === table)) table.dispose();
    return;
  }
  entry.users--;
  if (entry.users <= 0) {
    entry.table.dispose();
    tripleTables.delete(key);
  }
}

/** Bytes of a shared table attributed to each of its users. */
function tableShareBytes(table: tf.Tensor2D): number {
  const entry = [...tripleTables.values()].find((e) => e.table === table);
  return (4 * table.size) / Math.max(entry?.users ?? 1, 1);
}

/**
 * A frozen 4-bit (NF4 or FP4) linear layer: the QLoRA base. Holds the codes as int32 words of six
 * nibbles and the per-block absmax as float32 (double-quantized absmax is expanded once at
 * construction; the 8-bit codes are kept on the host for saving). The float32 weight exists only
 * inside `apply` (and again inside its gradient), one layer at a time. Gradients flow to the input
 * only (`dy @ W` with W dequantized as PyTorch's `[out, in]`; the forward's `x @ Wᵀ` uses a
 * transpose flag except on wasm, see `fastFlaggedMatMul`). Dequantizing looks the codes up three
 * at a time in a table shared by the layers (`lookupWords`).
 *
 * @example
 * ```ts
 * const layer = Nf4Linear.quantize(weightOutIn, 128, 64, { quantType: 'nf4', blocksize: 64 });
 * const y = layer.apply(x); // [..., 128]
 * ```
 */
export class Nf4Linear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bias: tf.Tensor1D | undefined;
  readonly quantType: QuantType;
  readonly blocksize: number;
  /** Six codes per int32 word, `[⌈blocks·blocksize/6⌉]`. */
  readonly words: tf.Tensor1D;
  /** float32 absmax per block, `[blocks, 1]`. */
  readonly absmax: tf.Tensor2D;
  /** The 16-entry code table `[16]`. */
  readonly code: tf.Tensor1D;
  /**
   * Keep the float32 weight dequantized in the forward pass for the backward pass of the same
   * step (one dequantization per step instead of two, but every quantized layer's float32 weight
   * is then alive between forward and backward). Default false: the base is dequantized again in
   * the gradient, so at most one layer's float32 weight exists at a time.
   */
  cacheWeightForBackward = false;
  /** The shared `[4096, 3]` look-up table of the code map (see `lookupWords`). */
  private readonly table: tf.Tensor2D;
  private readonly host: Omit<QuantState, 'packed'>;
  private readonly matMul: (x: tf.Tensor2D) => tf.Tensor2D;

  /** Builds the layer from a bitsandbytes quant state of a PyTorch `[out, in]` weight. */
  constructor(state: QuantState, options: { bias?: tf.Tensor1D; name?: string } = {}) {
    const name = options.name ?? 'linear';
    if (state.shape.length !== 2) {
      throw new InvalidArgumentError({ argument: name, message: `expected a 2-D [out, in] weight, found shape [${state.shape.join(', ')}].` });
    }
    const [out, inF] = state.shape as [number, number];
    this.outFeatures = out;
    this.inFeatures = inF;
    this.quantType = state.quantType;
    this.blocksize = state.blocksize;
    const n = out * inF;
    const blocks = blockCount(n, state.blocksize);
    const absmax = state.nested === undefined
      ? (state.absmax as Float32Array)
      : decompressAbsmax({ absmax: state.absmax as Uint8Array, nestedAbsmax: state.nested.absmax, offset: state.nested.offset }, state.nested.quantMap, state.nested.blocksize);
    const padded = Math.ceil((blocks * state.blocksize) / NIBBLES_PER_WORD) * NIBBLES_PER_WORD;
    this.words = tf.tensor1d(packWords(bnbBytesToCodes(state.packed, n, padded)), 'int32');
    this.absmax = tf.tensor2d(absmax, [blocks, 1]);
    this.code = tf.tensor1d(state.quantMap);
    this.table = acquireTripleTable(state.quantMap);
    this.bias = options.bias;
    const { packed: _packed, ...host } = state;
    this.host = host;
    this.matMul = tf.customGrad(((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const w = this.dequantizeTorchLayout();
      // tfjs saves only while a gradient tape records, and frees the saved tensor after backprop.
      const cached = this.cacheWeightForBackward;
      if (cached) save([w]);
      return {
        value: fastFlaggedMatMul() ? tf.matMul(x, w, false, true) : tf.matMul(x, tf.transpose(w)),
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => tf.matMul(dy, cached ? (saved[0] as tf.Tensor2D) : this.dequantizeTorchLayout()),
      };
    }) as unknown as CustomGradFn) as unknown as (x: tf.Tensor2D) => tf.Tensor2D;
  }

  /** Quantizes a PyTorch-layout `[out, in]` host weight as bitsandbytes would (see {@link quantize4bit}). */
  static quantize(weight: Float32Array, outFeatures: number, inFeatures: number, options: QuantizeLinearOptions = {}): Nf4Linear {
    return new Nf4Linear(quantizeState(weight, [outFeatures, inFeatures], options), {
      ...(options.bias === undefined ? {} : { bias: options.bias }),
      ...(options.name === undefined ? {} : { name: options.name }),
    });
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const lead = x.shape.slice(0, -1);
      let y = this.matMul(x.reshape([-1, this.inFeatures]) as tf.Tensor2D);
      if (this.bias !== undefined) y = tf.add(y, this.bias);
      return y.reshape([...lead, this.outFeatures]);
    });
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  /** The dequantized weight in PyTorch layout `[out, in]` (caller disposes). */
  dequantizeTorchLayout(): tf.Tensor2D {
    return tf.tidy(() => {
      const blocks = this.absmax.shape[0];
      const values = lookupWords(this.words, this.table).slice(0, blocks * this.blocksize);
      const scaled = tf.mul(values.reshape([blocks, this.blocksize]), this.absmax);
      return scaled.reshape([-1]).slice(0, this.outFeatures * this.inFeatures).reshape([this.outFeatures, this.inFeatures]) as tf.Tensor2D;
    });
  }

  /** The dequantized weight `[in, out]` (caller disposes). */
  denseWeight(): tf.Tensor2D {
    return tf.tidy(() => tf.transpose(this.dequantizeTorchLayout()));
  }

  /**
   * Merging LoRA into a 4-bit base rounds: `@lora/peft` warns with PEFT's message when this is true
   * (`RebuildableLinear.lossyRebuild`).
   */
  readonly lossyRebuild = true;

  /**
   * A new 4-bit layer holding `weight` (`[in, out]`, the caller keeps ownership), requantized with
   * this layer's quant type, blocksize and double-quant setting (bnb bytes of the new weight), and
   * a copy of the bias. This is the `RebuildableLinear` hook @lora/peft's merge / unmerge call:
   * dequantize, add ΔW, requantize, as PEFT's bnb `Linear4bit.merge` does. Asynchronous: the weight
   * is read back with `await data()` (requantization runs on the host; webgpu has no `dataSync`).
   */
  async withDenseWeight(weight: tf.Tensor2D): Promise<Nf4Linear> {
    if (weight.shape[0] !== this.inFeatures || weight.shape[1] !== this.outFeatures) {
      throw new InvalidArgumentError({
        argument: 'weight',
        message: `expected a [${this.inFeatures}, ${this.outFeatures}] ([in, out]) weight for this ${this.quantType} layer, found [${weight.shape.join(', ')}].`,
      });
    }
    const torchLayout = tf.tidy(() => tf.transpose(weight));
    const data = (await torchLayout.data()) as Float32Array;
    torchLayout.dispose();
    return new Nf4Linear(quantizeState(data, [this.outFeatures, this.inFeatures], {
      quantType: this.quantType,
      blocksize: this.blocksize,
      doubleQuant: this.host.nested !== undefined,
    }), this.bias === undefined ? {} : { bias: this.bias.clone() });
  }

  /** Same as {@link denseWeight}: the float32 weight `[in, out]` that merging adapters adds to. */
  dequantizedWeight(): tf.Tensor2D {
    return this.denseWeight();
  }

  /**
   * The bitsandbytes quant state (packed bytes rebuilt from the device words), for saving.
   * Asynchronous: the words are read back with `await data()` (webgpu has no `dataSync`).
   */
  async quantState(): Promise<QuantState> {
    const n = this.outFeatures * this.inFeatures;
    const codes = unpackWords((await this.words.data()) as Int32Array, n);
    // bnb pads an odd element count with the code of 0 (7 for NF4, 0 for FP4).
    const packed = codesToBnbBytes(codes, n, this.quantType === 'nf4' ? 7 : 0);
    return { ...this.host, packed };
  }

  /** Bytes held in tfjs tensors by this layer (words + absmax + code map, plus its share of the look-up table; bias excluded). */
  residentBytes(): number {
    return 4 * (this.words.size + this.absmax.size + this.code.size) + tableShareBytes(this.table);
  }

  dispose(): void {
    this.words.dispose();
    this.absmax.dispose();
    this.code.dispose();
    releaseTripleTable(this.host.quantMap, this.table);
    this.bias?.dispose();
  }
}

/** Quantizes a host tensor into a bitsandbytes {@link QuantState} (bytes identical to bnb on CPU). */
export function quantizeState(data: Float32Array, shape: readonly number[], options: QuantizeLinearOptions = {}): QuantState {
  const quantType = options.quantType ?? 'nf4';
  const blocksize = options.blocksize ?? 64;
  const { packed, absmax } = quantize4bit(data, quantType, blocksize);
  const maps = defaultMaps(quantType);
  const base = { quantType, blocksize, shape: [...shape], dtype: 'float32', packed, quantMap: maps.quantMap };
  if (!(options.doubleQuant ?? true)) return { ...base, absmax };
  const nested = compressAbsmax(absmax);
  return {
    ...base,
    absmax: nested.absmax,
    nested: { absmax: nested.nestedAbsmax, quantMap: maps.nestedQuantMap, blocksize: maps.nestedBlocksize, dtype: 'float32', offset: nested.offset },
  };
}
