import { InvalidArgumentError } from '@lora/core';
import type { LinearLike } from '@lora/models';
import { customGrad, fastFlaggedMatMul, isRecordingGradients, NF4_DEQUANTIZE } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';
import { blockCount, compressAbsmax, quantize4bit } from './blockwise.js';
import type { QuantType } from './codebooks/codebooks.js';
import { defaultMaps, type QuantState } from './format.js';
import {
  bnbBytesToCodes,
  codesToBnbBytes,
  codesToPairBytes,
  gatherRows,
  packBytePlanes,
  pairBytesToCodes,
  pairTable,
  splitBytePlanes,
  unpackBytePlanes,
  wordBitsOf,
} from './pack.js';

/**
 * Look-up tables shared by every layer with the same contents on the same backend, freed when the
 * last of them is disposed: the `[256, 2]` nibble-pair table of a code map (2 KiB) and the
 * `[256, 1]` nested map of double quantization (1 KiB).
 */
const sharedTables = new Map<string, { table: tf.Tensor2D; users: number }>();

function tableKey(kind: string, values: ArrayLike<number>): string {
  return `${tf.getBackend()}:${kind}:${Array.from(values).join(',')}`;
}

function acquireTable(key: string, make: () => tf.Tensor2D): tf.Tensor2D {
  let entry = sharedTables.get(key);
  if (entry === undefined || entry.table.isDisposed) {
    entry = { table: make(), users: 0 };
    sharedTables.set(key, entry);
  }
  entry.users++;
  return entry.table;
}

function releaseTable(key: string, table: tf.Tensor2D): void {
  const entry = sharedTables.get(key);
  if (entry === undefined || entry.table !== table) {
    // Already replaced: free it if it is ours alone.
    if (!table.isDisposed && ![...sharedTables.values()].some((e) => e.table === table)) table.dispose();
    return;
  }
  entry.users--;
  if (entry.users <= 0) {
    entry.table.dispose();
    sharedTables.delete(key);
  }
}

/** Bytes of a shared table attributed to each of its users. */
function tableShareBytes(key: string): number {
  const entry = sharedTables.get(key);
  return entry === undefined ? 0 : (4 * entry.table.size) / Math.max(entry.users, 1);
}

/** Double-quantized absmax on the device: 8-bit codes in the layer's words, dequantized per use. */
interface DeviceNestedAbsmax {
  /** Bytes `[codeBytes, codeBytes + nestedBlocks·blocksize)` of the words hold the codes (zero-padded). */
  readonly codeBytes: number;
  /** float32 absmax of each nested block, `[nestedBlocks, 1]`. */
  readonly nestedAbsmax: tf.Tensor2D;
  /** The float32 offset (mean of the original absmax), a scalar. */
  readonly offset: tf.Scalar;
  /** The shared `[256, 1]` nested code map and its key. */
  readonly map: tf.Tensor2D;
  readonly mapKey: string;
  readonly blocksize: number;
}

/**
 * A frozen 4-bit (NF4 or FP4) linear layer: the QLoRA base. Holds the codes as int32 words of
 * eight nibbles (4 bits per parameter) on backends with exact wrapping int32 arithmetic —
 * tensorflow, wasm, cpu — and of six elsewhere (webgpu), see `wordBitsOf`. With double
 * quantization the absmax stays 8-bit on the device (bytes after the codes in the same words)
 * with its float32 nested absmax and offset, as bitsandbytes keeps it; it is dequantized on each
 * use, bit for bit as `decompressAbsmax`. Resident: 0.516 bytes/param for NF4+DQ blocksize 64
 * (4-bit codes, 8-bit absmax), against 0.73 with six nibbles per word and float32 absmax. The float32 weight exists only inside `apply` (and again inside
 * its gradient), one layer at a time. Gradients flow to the input only (`dy @ W` with W
 * dequantized as PyTorch's `[out, in]`; the forward's `x @ Wᵀ` uses a transpose flag except on
 * wasm, see `fastFlaggedMatMul`). Dequantizing looks the codes up a byte (two nibbles) at a time
 * in a 2 KiB table shared by the layers (`lookupBytePlanes`); on tensorflow with `lora_ops.node`
 * built, one native kernel (`LoraNf4Dequantize`) writes the same weight bit for bit in one pass.
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
  /** Bits used per int32 word of {@link words} and of the 8-bit absmax (see `wordBitsOf`). */
  readonly wordBits: 24 | 32;
  /**
   * `wordBits / 8` bytes per int32 word in byte planes (`packBytePlanes`): the codes of the
   * `blocks·blocksize` elements, two per byte (low nibble first), then with double quantization
   * the 8-bit absmax codes padded to whole nested blocks — one split of the words per dequantization.
   */
  readonly words: tf.Tensor1D;
  /** The 16-entry code table `[16]`. */
  readonly code: tf.Tensor1D;
  /**
   * Keep the float32 weight dequantized in the forward pass for the backward pass of the same
   * step (one dequantization per step instead of two, but every quantized layer's float32 weight
   * is then alive between forward and backward). Default false: the base is dequantized again in
   * the gradient, so at most one layer's float32 weight exists at a time.
   */
  cacheWeightForBackward = false;
  /** The float32 `[out, in]` weight kept by {@link keepDequantized} for inference, if any. */
  private inferenceWeight: tf.Tensor2D | undefined;
  /** float32 absmax per block `[blocks, 1]` without double quantization. */
  private readonly plainAbsmax: tf.Tensor2D | undefined;
  /** The 8-bit absmax with double quantization. */
  private readonly nestedAbsmax: DeviceNestedAbsmax | undefined;
  /** The shared `[256, 2]` nibble-pair table of the code map (see `lookupBytePlanes`). */
  private readonly table: tf.Tensor2D;
  private readonly tableKey: string;
  private readonly blocks: number;
  private readonly host: Omit<QuantState, 'packed'>;
  private readonly matMul: (x: tf.Tensor2D) => tf.Tensor2D;

  /** Builds the layer from a bitsandbytes quant state of a PyTorch `[out, in]` weight. */
  constructor(state: QuantState, options: { bias?: tf.Tensor1D; name?: string } = {}) {
    const name = options.name ?? 'linear';
    if (state.shape.length !== 2) {
      throw new InvalidArgumentError({
        argument: name,
        message: `expected a 2-D [out, in] weight, found shape [${state.shape.join(', ')}].`,
      });
    }
    const [out, inF] = state.shape as [number, number];
    this.outFeatures = out;
    this.inFeatures = inF;
    this.quantType = state.quantType;
    this.blocksize = state.blocksize;
    this.wordBits = wordBitsOf();
    const n = out * inF;
    this.blocks = blockCount(n, state.blocksize);
    if (state.absmax.length !== this.blocks) {
      throw new InvalidArgumentError({
        argument: `${name}.absmax`,
        message: `expected ${this.blocks} absmax entries for ${n} elements in blocks of ${state.blocksize}, found ${state.absmax.length}.`,
      });
    }
    const codeBytes = codesToPairBytes(bnbBytesToCodes(state.packed, n, this.blocks * state.blocksize));
    if (state.nested === undefined) {
      this.words = tf.tensor1d(packBytePlanes(codeBytes, this.wordBits), 'int32');
      this.plainAbsmax = tf.tensor2d(state.absmax as Float32Array, [this.blocks, 1]);
    } else {
      const nested = state.nested;
      const nestedBlocks = blockCount(this.blocks, nested.blocksize);
      const bytes = new Uint8Array(codeBytes.length + nestedBlocks * nested.blocksize);
      bytes.set(codeBytes);
      bytes.set(state.absmax as Uint8Array, codeBytes.length);
      this.words = tf.tensor1d(packBytePlanes(bytes, this.wordBits), 'int32');
      const mapKey = tableKey('nested', nested.quantMap);
      this.nestedAbsmax = {
        codeBytes: codeBytes.length,
        nestedAbsmax: tf.tensor2d(nested.absmax, [nestedBlocks, 1]),
        offset: tf.scalar(nested.offset),
        map: acquireTable(mapKey, () => tf.tensor2d(nested.quantMap, [nested.quantMap.length, 1])),
        mapKey,
        blocksize: nested.blocksize,
      };
    }
    this.code = tf.tensor1d(state.quantMap);
    this.tableKey = tableKey('pair', state.quantMap);
    this.table = acquireTable(this.tableKey, () => tf.tensor2d(pairTable(state.quantMap), [256, 2]));
    this.bias = options.bias;
    const { packed: _packed, ...host } = state;
    this.host = host;
    this.matMul = customGrad<[tf.Tensor2D], tf.Tensor2D>((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const w = this.dequantizeTorchLayout();
      // tfjs saves only while a gradient tape records, and frees the saved tensor after backprop.
      const cached = this.cacheWeightForBackward;
      if (cached) save([w]);
      return {
        value: fastFlaggedMatMul() ? tf.matMul(x, w, false, true) : tf.matMul(x, tf.transpose(w)),
        gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => tf.matMul(dy, cached ? (saved[0] as tf.Tensor2D) : this.dequantizeTorchLayout()),
      };
    });
  }

  /** Quantizes a PyTorch-layout `[out, in]` host weight as bitsandbytes would (see {@link quantize4bit}). */
  static quantize(
    weight: Float32Array,
    outFeatures: number,
    inFeatures: number,
    options: {
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
    } = {},
  ): Nf4Linear {
    return new Nf4Linear(quantizeState(weight, [outFeatures, inFeatures], options), {
      ...(options.bias === undefined ? {} : { bias: options.bias }),
      ...(options.name === undefined ? {} : { name: options.name }),
    });
  }

  /**
   * Keeps one float32 copy of the dequantized weight (`true`) for forward passes that record no
   * gradient — generation, multiple-choice scoring, validation loss — or frees it (`false`).
   * Without it every forward pass dequantizes every layer again: a greedy decode of n tokens
   * dequantizes the whole base n times, which dominates QLoRA evaluation on CPUs. The outputs are
   * the same (the copy is the weight a forward pass would dequantize); training still dequantizes
   * per use. Costs 4 bytes per weight while kept. See `withDequantizedWeights` for a whole model.
   */
  keepDequantized(keep: boolean): void {
    if (keep && this.inferenceWeight === undefined) this.inferenceWeight = tf.keep(this.dequantizeTorchLayout());
    if (!keep && this.inferenceWeight !== undefined) {
      this.inferenceWeight.dispose();
      this.inferenceWeight = undefined;
    }
  }

  /** Whether {@link keepDequantized} holds a float32 copy of the weight. */
  get keepsDequantized(): boolean {
    return this.inferenceWeight !== undefined;
  }

  apply(x: tf.Tensor): tf.Tensor {
    return tf.tidy(() => {
      const flat = x.rank === 2;
      const x2 = (flat ? x : x.reshape([-1, this.inFeatures])) as tf.Tensor2D;
      const kept = this.inferenceWeight;
      let y =
        kept !== undefined && !isRecordingGradients()
          ? fastFlaggedMatMul()
            ? tf.matMul(x2, kept, false, true)
            : tf.matMul(x2, tf.transpose(kept))
          : this.matMul(x2);
      if (this.bias !== undefined) y = tf.add(y, this.bias);
      return flat ? y : y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
    });
  }

  trainableVariables(): tf.Variable[] {
    return [];
  }

  /**
   * The float32 absmax per block `[blocks, 1]`, a new tensor the caller disposes. With double
   * quantization it is dequantized from the 8-bit codes: `f32(f32(nested_map[code] · nested_absmax)
   * + offset)`, bitsandbytes' order (equal to `decompressAbsmax` bit for bit).
   */
  get absmax(): tf.Tensor2D {
    return tf.tidy(() => this.absmaxOf(splitBytePlanes(this.words, this.wordBits)));
  }

  /** The float32 absmax `[blocks, 1]` from the split bytes of the words. */
  private absmaxOf(bytes: tf.Tensor1D): tf.Tensor2D {
    const nested = this.nestedAbsmax;
    if (nested === undefined) return (this.plainAbsmax as tf.Tensor2D).clone();
    const total = nested.nestedAbsmax.shape[0] * nested.blocksize;
    const values = gatherRows(nested.map, bytes.slice(nested.codeBytes, total)).reshape([-1, nested.blocksize]);
    const absmax = tf.add(tf.mul(values, nested.nestedAbsmax), nested.offset);
    return (total === this.blocks ? absmax : absmax.reshape([-1]).slice(0, this.blocks)).reshape([this.blocks, 1]) as tf.Tensor2D;
  }

  /**
   * Whether {@link dequantizeTorchLayout} runs the native `LoraNf4Dequantize` kernel: registered on
   * the active backend (tensorflow with `lora_ops.node`, see `@lora/models`' native-ops), and words
   * of 32 bits with the codes in the first `blocks·blocksize/2` bytes (an even blocksize).
   */
  get usesNativeDequantize(): boolean {
    return this.wordBits === 32 && this.blocksize % 2 === 0 && tf.getKernel(NF4_DEQUANTIZE, tf.getBackend()) !== undefined;
  }

  /** The dequantized weight in PyTorch layout `[out, in]` (caller disposes). */
  dequantizeTorchLayout(): tf.Tensor2D {
    if (this.usesNativeDequantize) return this.dequantizeNative();
    return this.dequantizeWithOps();
  }

  /**
   * {@link dequantizeTorchLayout} in one native kernel (`tools/tfjs-node/ops/nf4.cc`): the same
   * float32 products as {@link dequantizeWithOps}, bit for bit.
   */
  private dequantizeNative(): tf.Tensor2D {
    const attrs = { rows: this.outFeatures, cols: this.inFeatures, blocksize: this.blocksize };
    const nested = this.nestedAbsmax;
    const inputs =
      nested === undefined
        ? { words: this.words, code: this.code, absmax: this.plainAbsmax as tf.Tensor2D }
        : { words: this.words, code: this.code, nestedAbsmax: nested.nestedAbsmax, offset: nested.offset, nestedMap: nested.map };
    return tf
      .engine()
      .runKernel(
        NF4_DEQUANTIZE,
        inputs as unknown as tf.NamedTensorMap,
        nested === undefined ? attrs : { ...attrs, nestedBlocksize: nested.blocksize },
      ) as tf.Tensor2D;
  }

  /**
   * {@link dequantizeTorchLayout} with tfjs ops, on every backend: split the words into bytes, look
   * the code pairs up in the shared table, multiply by the absmax of each block.
   */
  dequantizeWithOps(): tf.Tensor2D {
    return tf.tidy(() => {
      const n = this.outFeatures * this.inFeatures;
      const padded = this.blocks * this.blocksize;
      const bytes = splitBytePlanes(this.words, this.wordBits);
      // A slice from 0 (and one 64-byte aligned, as here) shares the buffer on tensorflow.
      const codeBytes = padded / 2;
      const values = gatherRows(this.table, bytes.shape[0] === codeBytes ? bytes : bytes.slice(0, codeBytes));
      const scaled = tf.mul(values.reshape([this.blocks, this.blocksize]), this.absmaxOf(bytes));
      return (n === padded ? scaled : scaled.reshape([-1]).slice(0, n)).reshape([this.outFeatures, this.inFeatures]) as tf.Tensor2D;
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
    return new Nf4Linear(
      quantizeState(data, [this.outFeatures, this.inFeatures], {
        quantType: this.quantType,
        blocksize: this.blocksize,
        doubleQuant: this.host.nested !== undefined,
      }),
      this.bias === undefined ? {} : { bias: this.bias.clone() },
    );
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
    const bytes = unpackBytePlanes((await this.words.data()) as Int32Array, this.wordBits, Math.ceil(n / 2));
    const codes = pairBytesToCodes(bytes, n);
    // bnb pads an odd element count with the code of 0 (7 for NF4, 0 for FP4).
    const packed = codesToBnbBytes(codes, n, this.quantType === 'nf4' ? 7 : 0);
    return { ...this.host, packed };
  }

  /**
   * Bytes held in tfjs tensors by this layer: code words, absmax (float32, or 8-bit words with the
   * nested absmax and offset), code map, and its share of the shared look-up tables; bias excluded.
   */
  residentBytes(): number {
    const nested = this.nestedAbsmax;
    const absmax =
      nested === undefined
        ? 4 * (this.plainAbsmax as tf.Tensor2D).size
        : 4 * (nested.nestedAbsmax.size + nested.offset.size) + tableShareBytes(nested.mapKey);
    return 4 * (this.words.size + this.code.size) + absmax + tableShareBytes(this.tableKey);
  }

  dispose(): void {
    this.keepDequantized(false);
    this.words.dispose();
    this.plainAbsmax?.dispose();
    const nested = this.nestedAbsmax;
    if (nested !== undefined) {
      tf.dispose([nested.nestedAbsmax, nested.offset]);
      releaseTable(nested.mapKey, nested.map);
    }
    this.code.dispose();
    releaseTable(this.tableKey, this.table);
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
    nested: {
      absmax: nested.nestedAbsmax,
      quantMap: maps.nestedQuantMap,
      blocksize: maps.nestedBlocksize,
      dtype: 'float32',
      offset: nested.offset,
    },
  };
}

/** Options of {@link Nf4Linear.quantize}. The public signature spells it out. */
export type QuantizeLinearOptions = NonNullable<Parameters<typeof Nf4Linear.quantize>[3]>;
