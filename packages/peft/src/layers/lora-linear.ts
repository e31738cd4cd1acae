import { InvalidArgumentError, LoraError, type Rng } from '@lora/core';
import type { LinearLike } from '@lora/models';
import { addScaled, customGrad, isRecordingGradients, Linear, LORA_LINEAR, LORA_LINEAR_GRAD, nativeKernel } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';
import type { InitLoraWeights } from '../config/lora-config.js';
import { doraForward, doraWeightNorm } from './dora.js';
import { matMul2d } from './ops.js';
import { withBiasVariable } from './trainable-bias.js';
import { oloraFactors, pissaFactors } from './svd-init.js';

/**
 * A base layer that can be rebuilt around a new dense weight: the hook merging uses for bases
 * that are not a plain `Linear` (e.g. @lora/quant's NF4 layer: dequantize, add,
 * requantize). `lossy` makes merging warn, as PEFT does for 4-bit bases.
 */
export interface RebuildableLinear extends LinearLike {
  /**
   * A new module of the same kind holding `weight` (`[in, out]`, the caller keeps ownership until
   * the promise settles) and a copy of this bias. May be asynchronous: rebuilding can read the
   * weight back to the host (`await data()`; webgpu has no `dataSync`).
   */
  withDenseWeight(weight: tf.Tensor2D): LinearLike | Promise<LinearLike>;
  /** True when rebuilding rounds the weight (quantized storage). */
  readonly lossyRebuild?: boolean;
}

/** True when `module` implements `RebuildableLinear`. */
export function isRebuildableLinear(module: LinearLike): module is RebuildableLinear {
  return typeof (module as Partial<RebuildableLinear>).withDenseWeight === 'function';
}

/** How one adapter of a {@link LoraLinear} is created. */
export interface LoraAdapterOptions {
  /** Rank. */
  readonly r: number;
  /** Alpha. */
  readonly loraAlpha: number;
  /** Scaling α/√r instead of α/r. */
  readonly useRslora: boolean;
  /** DoRA magnitude vector. */
  readonly useDora: boolean;
  /** Dropout on the adapter input while training. */
  readonly loraDropout: number;
  /**
   * Initialisation. `'pissa'`, `'pissa_niter_<n>'` and `'olora'` factor the base weight and replace
   * the base with the residual (see {@link LoraLinear.addAdapter}).
   */
  readonly initLoraWeights: InitLoraWeights;
  /** Draws A (and B when `initLoraWeights` is false), in PEFT's `[r, in]` / `[out, r]` order. */
  readonly rng: Rng;
  /** Whether the adapter's variables are trainable (false for inference-only adapters). */
  readonly trainable: boolean;
  /** Module path, for error messages. */
  readonly path?: string;
  /** Receives warnings (default `console.warn`). */
  readonly onWarning?: (message: string) => void;
}

/** The tensors of one adapter, in our layouts. */
export interface LoraAdapterWeights {
  /** `lora_A` as `[in, r]` (PEFT stores `[r, in]`). */
  readonly a: tf.Variable<tf.Rank.R2>;
  /** `lora_B` as `[r, out]` (PEFT stores `[out, r]`). */
  readonly b: tf.Variable<tf.Rank.R2>;
  /** DoRA magnitude `[out]`, when the adapter uses DoRA. */
  readonly magnitude: tf.Variable<tf.Rank.R1> | undefined;
}

interface Adapter extends LoraAdapterWeights {
  readonly r: number;
  readonly loraAlpha: number;
  readonly scaling: number;
  readonly dropout: number;
  readonly trainable: boolean;
}

/** Uniform U(±1/√fanIn) host values in row-major `[rows, fanIn]` order (kaiming_uniform, a = √5). */
function kaimingUniform(rng: Rng, rows: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return Float32Array.from({ length: rows * fanIn }, () => (2 * rng.next() - 1) * bound);
}

function transposed(data: Float32Array, rows: number, cols: number): tf.Tensor2D {
  return tf.tidy(() => tf.transpose(tf.tensor2d(data, [rows, cols])) as tf.Tensor2D);
}

/**
 * A linear layer with LoRA adapters: `y = base(x) + s · B(A(dropout(x)))` with `s = α/r` or
 * `α/√r` (rsLoRA), or DoRA when the adapter has a magnitude vector. Wraps any
 * {@link LinearLike} (dense or NF4); only the adapter variables train. A is kept as `[in, r]` and
 * B as `[r, out]` so every matmul is flag-free; the transposes to PEFT's layout happen at the file
 * boundary.
 */
export class LoraLinear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;
  /** Dropout is applied only while true (see {@link PeftModel.train}). */
  training = false;
  /** While true the layer outputs the base layer's output exactly. */
  disabled = false;
  private baseLayer: LinearLike;
  private readonly adapters = new Map<string, Adapter>();
  private active: string[] = [];
  private readonly merged: { name: string; factor: tf.Tensor1D | undefined }[] = [];
  private dropoutRng: Rng | undefined;
  /** The base bias as a variable once PEFT `bias` training is on (see {@link LoraLinear.biasVariable}). */
  private trainedBias: tf.Variable<tf.Rank.R1> | undefined;

  constructor(base: LinearLike) {
    this.baseLayer = base;
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
  }

  /** Wraps `base` and adds a first adapter named `adapterName`, made active. */
  static fromBase(base: LinearLike, adapterName: string, options: LoraAdapterOptions): LoraLinear {
    const layer = new LoraLinear(base);
    layer.addAdapter(adapterName, options);
    layer.setAdapter([adapterName]);
    return layer;
  }

  /** The wrapped base layer. */
  get base(): LinearLike {
    return this.baseLayer;
  }

  get bias(): tf.Tensor1D | undefined {
    return this.baseLayer.bias;
  }

  /**
   * Holds the base layer's bias in a variable (PEFT `bias="lora_only"` / `"all"`: the base's own
   * bias trains, saved as `<module>.base_layer.bias`) and returns it; `undefined` when the base
   * has no bias. Later calls return the same variable with `trainable` updated.
   *
   * @throws LoraError when the base has a bias but is not a dense `Linear` (e.g. NF4).
   */
  biasVariable(trainable: boolean, where = 'linear'): tf.Variable<tf.Rank.R1> | undefined {
    if (this.trainedBias !== undefined) {
      this.trainedBias.trainable = trainable;
      return this.trainedBias;
    }
    const made = withBiasVariable(this.baseLayer, trainable, where);
    if (made === undefined) return undefined;
    this.baseLayer = made.layer;
    this.trainedBias = made.variable;
    return made.variable;
  }

  /**
   * Replaces the weight of a dense `Linear` base (`[in, out]`, consumed), keeping its bias:
   * PEFT loads the base weight saved with an adapted `lm_head` / `embed_tokens` into the base layer.
   *
   * @throws LoraError when the base is not a `Linear` or adapters are merged into it.
   */
  setBaseWeight(weight: tf.Tensor2D): void {
    const base = this.baseLayer;
    if (!(base instanceof Linear) || this.merged.length > 0) {
      weight.dispose();
      throw new LoraError(
        `cannot replace the base weight of a ${base.constructor.name}${this.merged.length > 0 ? ' with merged adapters' : ''}: a dense Linear base without merged adapters is needed.`,
      );
    }
    this.baseLayer = this.linearAround(weight, base);
  }

  /** Names of the adapters this layer holds. */
  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** Names of the active adapters (those present in this layer). */
  activeAdapters(): string[] {
    return this.active.filter((n) => this.adapters.has(n));
  }

  /** Names of the adapters merged into the base weight, in merge order. */
  mergedAdapters(): string[] {
    return this.merged.map((m) => m.name);
  }

  /** Scaling `s` of an adapter. */
  scaling(name: string): number {
    return this.require(name).scaling;
  }

  /** Rank and alpha of an adapter. */
  rank(name: string): { r: number; loraAlpha: number } {
    const a = this.require(name);
    return { r: a.r, loraAlpha: a.loraAlpha };
  }

  /** The variables of an adapter (owned by the layer). */
  weights(name: string): LoraAdapterWeights {
    const { a, b, magnitude } = this.require(name);
    return { a, b, magnitude };
  }

  /**
   * Adds an adapter (inactive until {@link LoraLinear.setAdapter}). PiSSA / OLoRA inits read the
   * base weight back synchronously (`dataSync`: cpu, wasm, webgl) and rebuild the base around the
   * residual weight; a quantized base is refused.
   */
  addAdapter(name: string, options: LoraAdapterOptions): void {
    const where = options.path ?? 'linear';
    if (this.adapters.has(name))
      throw new InvalidArgumentError({ argument: 'adapterName', message: `${where} already has an adapter "${name}"; delete it first.` });
    if (!Number.isInteger(options.r) || options.r <= 0)
      throw new InvalidArgumentError({ argument: 'r', message: `\`r\` must be a positive integer (got ${options.r}) at ${where}.` });
    const init = options.initLoraWeights;
    const { r } = options;
    const [inF, outF] = [this.inFeatures, this.outFeatures];
    const rng = options.rng;
    const scaling = options.useRslora ? options.loraAlpha / Math.sqrt(r) : options.loraAlpha / r;
    let a: tf.Variable<tf.Rank.R2>;
    let b: tf.Variable<tf.Rank.R2>;
    if (typeof init === 'string' && init !== 'gaussian') {
      ({ a, b } = this.decomposeBase(init, r, scaling, options));
    } else {
      let aData: Float32Array;
      if (init === 'gaussian') aData = Float32Array.from({ length: r * inF }, () => rng.normal() / r);
      else aData = kaimingUniform(rng, r, inF);
      a = tf.variable(transposed(aData, r, inF), options.trainable) as tf.Variable<tf.Rank.R2>;
      const bInit = init === false ? transposed(kaimingUniform(rng, outF, r), outF, r) : tf.zeros([r, outF]);
      b = tf.variable(bInit, options.trainable) as tf.Variable<tf.Rank.R2>;
      bInit.dispose();
    }
    let magnitude: tf.Variable<tf.Rank.R1> | undefined;
    if (options.useDora) {
      const norm = tf.tidy(() => {
        const w = this.baseLayer.denseWeight();
        return doraWeightNorm(w, a, b, scaling);
      });
      magnitude = tf.variable(norm, options.trainable) as tf.Variable<tf.Rank.R1>;
      norm.dispose();
    }
    this.dropoutRng ??= rng;
    this.adapters.set(name, {
      a,
      b,
      magnitude,
      r,
      loraAlpha: options.loraAlpha,
      scaling,
      dropout: options.loraDropout,
      trainable: options.trainable,
    });
  }

  /**
   * Replaces an adapter's values from host data in PEFT's layouts (`lora_A` `[r, in]`,
   * `lora_B` `[out, r]`, magnitude `[out]`); shapes are checked by the caller.
   */
  assignFromTorch(name: string, values: { a: Float32Array; b: Float32Array; magnitude?: Float32Array }): void {
    const adapter = this.require(name);
    const { r } = adapter;
    tf.tidy(() => {
      adapter.a.assign(transposed(values.a, r, this.inFeatures));
      adapter.b.assign(transposed(values.b, this.outFeatures, r));
      if (adapter.magnitude !== undefined && values.magnitude !== undefined) adapter.magnitude.assign(tf.tensor1d(values.magnitude));
    });
  }

  /** Reads an adapter back in PEFT's layouts (`lora_A` `[r, in]`, `lora_B` `[out, r]`). */
  async toTorch(name: string): Promise<{ a: Float32Array; b: Float32Array; magnitude: Float32Array | undefined }> {
    const adapter = this.require(name);
    const [at, bt] = tf.tidy(() => [tf.transpose(adapter.a), tf.transpose(adapter.b)]) as [tf.Tensor, tf.Tensor];
    const a = (await at.data()) as Float32Array;
    const b = (await bt.data()) as Float32Array;
    at.dispose();
    bt.dispose();
    const magnitude = adapter.magnitude === undefined ? undefined : ((await adapter.magnitude.data()) as Float32Array);
    return { a, b, magnitude };
  }

  /** Makes `names` the active adapters (names this layer lacks are skipped, as in PEFT). */
  setAdapter(names: readonly string[]): void {
    this.active = [...names];
  }

  /** Removes an adapter and frees its variables. */
  deleteAdapter(name: string): void {
    const adapter = this.require(name);
    if (this.mergedAdapters().includes(name)) {
      throw new LoraError(`adapter "${name}" is merged into the base weight; unmerge it before deleting it.`);
    }
    adapter.a.dispose();
    adapter.b.dispose();
    adapter.magnitude?.dispose();
    this.adapters.delete(name);
    this.active = this.active.filter((n) => n !== name);
  }

  apply(x: tf.Tensor): tf.Tensor {
    if (this.disabled && this.merged.length > 0) this.unmergeNow();
    if (this.disabled || this.merged.length > 0) return this.baseLayer.apply(x);
    const names = this.activeAdapters();
    if (names.length === 0) return this.baseLayer.apply(x);
    return tf.tidy(() => {
      // Rank-2 inputs (the decoders' flattened hidden states) need no reshapes, forward or backward.
      const flat = x.rank === 2;
      const lead = x.shape.slice(0, -1);
      const x2 = (flat ? x : x.reshape([-1, this.inFeatures])) as tf.Tensor2D;
      const fused = this.nativeApply(x2, names);
      if (fused !== undefined) return flat ? fused : fused.reshape([...lead, this.outFeatures]);
      let result = this.baseLayer.apply(x2) as tf.Tensor2D;
      for (const name of names) {
        const ad = this.adapters.get(name) as Adapter;
        const dropped = this.training && ad.dropout > 0;
        const xin = dropped ? (tf.dropout(x2, ad.dropout, undefined, this.nextSeed()) as tf.Tensor2D) : x2;
        if (ad.magnitude === undefined) {
          const lora = matMul2d(matMul2d(xin, ad.a), ad.b);
          result = addScaled(result, lora, ad.scaling);
        } else {
          const weight = this.baseLayer.denseWeight();
          result = doraForward({
            result,
            x: xin,
            dropped,
            weight,
            bias: this.baseLayer.bias,
            a: ad.a,
            b: ad.b,
            magnitude: ad.magnitude,
            scaling: ad.scaling,
          });
        }
      }
      return flat ? result : result.reshape([...lead, this.outFeatures]);
    });
  }

  /**
   * On tensorflow with lora_ops.node, a frozen float32 `Linear` base (bias frozen too) with one
   * plain adapter (no DoRA) runs as one native op each way (`LoraLinear`, `LoraLinearGrad`) instead
   * of about five and eight; `undefined` otherwise. Dropout while training stays a tfjs op (same
   * seeds, same mask) in front of the adapter's input, which the op takes separately.
   */
  private nativeApply(x: tf.Tensor2D, names: readonly string[]): tf.Tensor2D | undefined {
    if (names.length !== 1 || !nativeKernel(LORA_LINEAR)) return undefined;
    const base = this.baseLayer;
    if (!(base instanceof Linear) || base.weight.dtype !== 'float32' || base.trainableVariables().length > 0) return undefined;
    // A trained bias (PEFT `bias`: a variable inside the frozen Linear) needs its gradient: tfjs ops.
    if (base.bias instanceof tf.Variable && base.bias.trainable) return undefined;
    const ad = this.adapters.get(names[0] as string) as Adapter;
    if (ad.magnitude !== undefined) return undefined;
    const dropped = this.training && ad.dropout > 0 ? (tf.dropout(x, ad.dropout, undefined, this.nextSeed()) as tf.Tensor2D) : undefined;
    const w = base.weight;
    const bias: tf.NamedTensorMap = base.bias === undefined ? {} : { bias: base.bias };
    const forward = (xIn: tf.Tensor2D, xl: tf.Tensor2D | undefined, a: tf.Tensor2D, b: tf.Tensor2D) =>
      tf
        .engine()
        .runKernel(
          LORA_LINEAR,
          { x: xIn, ...(xl === undefined ? {} : { xl }), w, a, b, ...bias },
          { scale: ad.scaling, hasBias: base.bias !== undefined },
        ) as [tf.Tensor2D, tf.Tensor2D];
    if (!isRecordingGradients()) {
      const [y, xa] = forward(x, dropped, ad.a, ad.b);
      xa.dispose();
      return y;
    }
    const backward = (dy: tf.Tensor2D, xl: tf.Tensor, a: tf.Tensor, b: tf.Tensor, xa: tf.Tensor, split: boolean) =>
      tf.engine().runKernel(LORA_LINEAR_GRAD, { xl, w, a, b, xa, dy }, { scale: ad.scaling, split }) as [
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
        tf.Tensor,
      ];
    if (dropped === undefined) {
      const run = customGrad<[tf.Tensor2D, tf.Tensor2D, tf.Tensor2D], tf.Tensor2D>(
        (xIn: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, save: tf.GradSaveFunc) => {
          const [y, xa] = forward(xIn, undefined, a, b);
          save([xIn, a, b, xa]);
          return {
            value: y,
            gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
              const [dx, dxl, da, db] = backward(dy, ...(saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]), false);
              dxl.dispose();
              return [dx, da, db];
            },
          };
        },
      );
      return run(x, ad.a, ad.b);
    }
    // The dropped input is an input of its own: its gradient flows back through tfjs's dropout.
    const run = customGrad<[tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D], tf.Tensor2D>(
      (xIn: tf.Tensor2D, xl: tf.Tensor2D, a: tf.Tensor2D, b: tf.Tensor2D, save: tf.GradSaveFunc) => {
        const [y, xa] = forward(xIn, xl, a, b);
        save([xl, a, b, xa]);
        return {
          value: y,
          gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => backward(dy, ...(saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]), true),
        };
      },
    );
    return run(x, dropped, ad.a, ad.b);
  }

  /** Variables of the active, trainable adapters (the base layer is frozen). */
  trainableVariables(): tf.Variable[] {
    const vars = this.activeAdapters().flatMap((name) => {
      const ad = this.adapters.get(name) as Adapter;
      if (!ad.trainable) return [];
      return ad.magnitude === undefined ? [ad.a, ad.b] : [ad.a, ad.b, ad.magnitude];
    });
    if (this.trainedBias?.trainable === true) vars.push(this.trainedBias);
    return vars;
  }

  /** The effective weight `[in, out]`: the base with the active adapters applied (or merged). */
  denseWeight(): tf.Tensor2D {
    if (this.disabled || this.merged.length > 0) return this.baseLayer.denseWeight();
    return tf.tidy(() => {
      let w = this.baseLayer.denseWeight();
      for (const name of this.activeAdapters()) w = this.mergedWeight(w, this.adapters.get(name) as Adapter).weight;
      return w;
    });
  }

  /** `ΔW = s · A B` of an adapter, `[in, out]`. */
  deltaWeight(name: string): tf.Tensor2D {
    const ad = this.require(name);
    return tf.tidy(() => tf.mul(matMul2d(ad.a, ad.b), ad.scaling) as tf.Tensor2D);
  }

  /**
   * Folds the active adapters (or `names`) into the base weight; forward then runs the base only.
   * The base is rebuilt around the new weight: a `Linear` directly, any other base through
   * `RebuildableLinear` (NF4: dequantize, add, requantize — lossy, with a warning).
   *
   * Asynchronous (await it before the next forward): `safe` reads a flag back to the host and an
   * NF4 base is requantized on the host, both with `await data()`, which every backend supports.
   *
   * @param safe - check the merged weight for NaN/Inf before committing (PEFT `safe_merge`).
   */
  async merge(
    names: readonly string[] = this.activeAdapters(),
    { safe = false, onWarning }: { safe?: boolean; onWarning?: (m: string) => void } = {},
  ): Promise<void> {
    for (const name of names) {
      if (this.mergedAdapters().includes(name)) {
        (onWarning ?? console.warn)(`adapter "${name}" is already merged; skipping it.`);
        continue;
      }
      const adapter = this.require(name);
      const { weight, factor } = tf.tidy(() => this.mergedWeight(this.baseLayer.denseWeight(), adapter));
      if (safe) {
        const flag = tf.tidy(() => tf.all(tf.isFinite(weight)));
        const finite = (await flag.data())[0] === 1;
        flag.dispose();
        if (!finite) {
          weight.dispose();
          factor?.dispose();
          throw new LoraError(`NaNs detected in the merged weights. The adapter "${name}" seems to be broken.`);
        }
      }
      await this.rebuildBase(weight, onWarning, 'Merge');
      this.merged.push({ name, factor });
    }
  }

  /**
   * Undoes {@link LoraLinear.merge} for every merged adapter (last merged first). Asynchronous for
   * the same reason as `merge` (an NF4 base is requantized on the host).
   */
  async unmerge({ onWarning }: { onWarning?: (m: string) => void } = {}): Promise<void> {
    if (this.merged.length === 0) {
      (onWarning ?? console.warn)('Already unmerged. Nothing to do.');
      return;
    }
    while (this.merged.length > 0) await this.unmergeLast(onWarning);
  }

  /**
   * Unmerges synchronously inside `apply` when adapters were disabled while merged (as PEFT's
   * forward does). Only a `Linear` base is rebuilt synchronously; other bases (NF4) need the
   * asynchronous {@link LoraLinear.unmerge} first.
   */
  private unmergeNow(): void {
    if (!(this.baseLayer instanceof Linear)) {
      throw new LoraError(
        `adapters ${this.mergedAdapters()
          .map((n) => `"${n}"`)
          .join(
            ', ',
          )} are merged into the ${this.baseLayer.constructor.name} base, which is rebuilt asynchronously: \`await unmerge()\` (PeftModel.unmerge) before running with adapters disabled.`,
      );
    }
    while (this.merged.length > 0) void this.unmergeLast(undefined);
  }

  /** Takes the last merged adapter out of the base weight; synchronous for a `Linear` base. */
  private unmergeLast(onWarning: ((m: string) => void) | undefined): void | Promise<void> {
    const { name, factor } = this.merged.pop() as { name: string; factor: tf.Tensor1D | undefined };
    const adapter = this.require(name);
    const weight = tf.tidy(() => {
      const w = this.baseLayer.denseWeight();
      const delta = tf.mul(matMul2d(adapter.a, adapter.b), adapter.scaling);
      return tf.sub(factor === undefined ? w : tf.div(w, factor), delta) as tf.Tensor2D;
    });
    factor?.dispose();
    return this.rebuildBase(weight, onWarning, 'Unmerge');
  }

  /**
   * Returns the base layer, freeing every adapter (the layer must not be used afterwards). With
   * merged adapters the returned base holds them.
   */
  unload(): LinearLike {
    for (const { factor } of this.merged) factor?.dispose();
    this.merged.length = 0;
    for (const ad of this.adapters.values()) {
      ad.a.dispose();
      ad.b.dispose();
      ad.magnitude?.dispose();
    }
    this.adapters.clear();
    this.active = [];
    this.trainedBias = undefined; // now owned by the returned base (PEFT keeps trained biases)
    return this.baseLayer;
  }

  dispose(): void {
    this.unload().dispose();
  }

  /**
   * A `Linear` holding `weight` and `old`'s bias (the trained bias variable itself when bias
   * training is on, else a copy); frees `old` except that variable.
   */
  private linearAround(weight: tf.Tensor2D, old: Linear): Linear {
    if (this.trainedBias !== undefined && old.bias === this.trainedBias) {
      old.weight.dispose();
      return new Linear(weight, { bias: this.trainedBias });
    }
    const next = new Linear(weight, old.bias === undefined ? {} : { bias: old.bias.clone() });
    old.dispose();
    return next;
  }

  /** `W + ΔW`, or DoRA's `(m / ‖W + ΔW‖) ⊙ (W + ΔW)` (per output column); disposes `w`. */
  private mergedWeight(w: tf.Tensor2D, ad: Adapter): { weight: tf.Tensor2D; factor: tf.Tensor1D | undefined } {
    const out = tf.tidy(() => {
      const combined = tf.add(w, tf.mul(matMul2d(ad.a, ad.b), ad.scaling)) as tf.Tensor2D;
      if (ad.magnitude === undefined) return { weight: combined, factor: undefined };
      const norm = tf.sqrt(tf.sum(tf.square(combined), 0));
      const factor = tf.div(ad.magnitude, norm) as tf.Tensor1D;
      return { weight: tf.mul(combined, factor) as tf.Tensor2D, factor };
    });
    w.dispose();
    return out;
  }

  /**
   * Puts a new base around `weight` (consumed) and frees the old one. A lossy base warns with
   * PEFT's bnb message (`Merge` or `Unmerge lora module to 4-bit linear …`). Synchronous for a
   * `Linear` base (and any rebuild that returns a module); otherwise it returns a promise.
   */
  private rebuildBase(weight: tf.Tensor2D, onWarning: ((m: string) => void) | undefined, verb: 'Merge' | 'Unmerge'): void | Promise<void> {
    const old = this.baseLayer;
    if (old instanceof Linear) {
      this.baseLayer = this.linearAround(weight, old);
      return;
    }
    if (!isRebuildableLinear(old)) {
      weight.dispose();
      throw new LoraError(
        `cannot merge into a base layer of type ${old.constructor.name}: merging needs a Linear from @lora/models or a layer implementing RebuildableLinear.withDenseWeight (e.g. @lora/quant's NF4 layer).`,
      );
    }
    if (old.lossyRebuild === true) {
      (onWarning ?? console.warn)(`${verb} lora module to 4-bit linear may get different generations due to rounding errors.`);
    }
    const install = (next: LinearLike): void => {
      weight.dispose();
      this.baseLayer = next;
      old.dispose();
    };
    let next: LinearLike | Promise<LinearLike>;
    try {
      next = old.withDenseWeight(weight);
    } catch (error) {
      weight.dispose();
      throw error;
    }
    if (!(next instanceof Promise)) return install(next);
    return next.then(install, (error: unknown) => {
      weight.dispose();
      throw error;
    });
  }

  /**
   * PiSSA / OLoRA (PEFT `pissa_init`, `olora_init`): factors the base weight `W` (torch
   * `[out, in]`, in float64) into `lora_A` / `lora_B` and replaces the base with the residual
   * `W − s·B·A` (stored float32), so the layer's output is unchanged at init. Needs a dense
   * `Linear` base or a loss-free `RebuildableLinear` that rebuilds synchronously; a
   * quantized (lossy) base is refused, as PEFT refuses PiSSA on 4-bit weights.
   */
  private decomposeBase(
    init: string,
    r: number,
    scaling: number,
    options: LoraAdapterOptions,
  ): { a: tf.Variable<tf.Rank.R2>; b: tf.Variable<tf.Rank.R2> } {
    const where = options.path ?? 'linear';
    const niterMatch = /^pissa_niter_(\d+)$/.exec(init);
    if (init !== 'pissa' && init !== 'olora' && niterMatch === null) {
      throw new InvalidArgumentError({
        argument: 'initLoraWeights',
        message: `\`init_lora_weights\` "${init}" is not supported at ${where}; use true, false, "gaussian", "pissa", "pissa_niter_<n>" or "olora".`,
      });
    }
    const base = this.baseLayer;
    if (!(base instanceof Linear)) {
      if (!isRebuildableLinear(base)) {
        throw new LoraError(
          `\`init_lora_weights\` "${init}" rewrites the base weight, but the base layer at ${where} is a ${base.constructor.name}, which cannot be rebuilt; use a Linear from @lora/models.`,
        );
      }
      if (base.lossyRebuild === true) {
        throw new LoraError(
          `\`init_lora_weights\` "${init}" rewrites the base weight, but the base layer at ${where} (${base.constructor.name}) is quantized and would round the residual weight; initialise on the full-precision model, then quantize the residual model (as PEFT requires for 4-bit bases).`,
        );
      }
    }
    const [inF, outF] = [this.inFeatures, this.outFeatures];
    if (r > Math.min(inF, outF)) {
      throw new InvalidArgumentError({
        argument: 'r',
        message: `\`init_lora_weights\` "${init}" needs \`r\` ≤ min(in, out) = ${Math.min(inF, outF)} at ${where} (got r = ${r}); lower r.`,
      });
    }
    // Our [in, out] row-major buffer is torch's [out, in] weight read column-major.
    const dense = base.denseWeight();
    let wIn: ArrayLike<number>;
    try {
      wIn = dense.dataSync();
    } catch (error) {
      throw new LoraError(
        `\`init_lora_weights\` "${init}" reads the base weight at ${where} back synchronously (adapters are created synchronously), which this backend (${tf.getBackend()}) cannot do; create the adapter on the wasm, cpu or tensorflow backend, or use the default initialisation.`,
        { cause: error },
      );
    } finally {
      dense.dispose();
    }
    const w = new Float64Array(outF * inF);
    for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) w[o * inF + i] = wIn[i * outF + o] as number;
    const shape = { out: outF, in: inF };
    const { loraA, loraB } =
      init === 'olora'
        ? oloraFactors(w, shape, r)
        : pissaFactors(w, shape, r, scaling, niterMatch === null ? undefined : { niter: Number(niterMatch[1]), rng: options.rng });
    // Residual in our [in, out] layout: W_res[i, o] = W[o, i] − s · Σ_k B[o, k] A[k, i].
    const residual = new Float32Array(inF * outF);
    for (let i = 0; i < inF; i++) {
      for (let o = 0; o < outF; o++) {
        let acc = 0;
        for (let k = 0; k < r; k++) acc += (loraB[o * r + k] as number) * (loraA[k * inF + i] as number);
        residual[i * outF + o] = (w[o * inF + i] as number) - scaling * acc;
      }
    }
    const weight = tf.tensor2d(residual, [inF, outF]);
    if (base instanceof Linear) {
      this.baseLayer = this.linearAround(weight, base);
    } else {
      let next: LinearLike | Promise<LinearLike>;
      try {
        next = (base as RebuildableLinear).withDenseWeight(weight);
      } finally {
        weight.dispose();
      }
      if (next instanceof Promise) {
        void next.then(
          (m) => m.dispose(),
          () => undefined,
        );
        throw new LoraError(
          `\`init_lora_weights\` "${init}" needs a base that rebuilds synchronously, but ${base.constructor.name}.withDenseWeight at ${where} returned a promise; use a Linear from @lora/models.`,
        );
      }
      this.baseLayer = next;
      base.dispose();
    }
    const a = tf.variable(transposed(Float32Array.from(loraA), r, inF), options.trainable) as tf.Variable<tf.Rank.R2>;
    const b = tf.variable(transposed(Float32Array.from(loraB), outF, r), options.trainable) as tf.Variable<tf.Rank.R2>;
    return { a, b };
  }

  private nextSeed(): number {
    return (this.dropoutRng as Rng).nextUint32();
  }

  private require(name: string): Adapter {
    const adapter = this.adapters.get(name);
    if (adapter === undefined) {
      throw new InvalidArgumentError({
        argument: 'adapterName',
        message: `no adapter "${name}" (this layer has: ${this.adapterNames().join(', ') || 'none'}).`,
      });
    }
    return adapter;
  }
}
