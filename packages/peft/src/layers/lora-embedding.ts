import { InvalidArgumentError, LoraError } from '@lora/core';
import type { EmbeddingLike } from '@lora/models';
import { Embedding, gatherRows } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';
import type { LoraAdapterOptions } from './lora-linear.js';
import { matMul2d } from './ops.js';

/** The variables of one adapter of a {@link LoraEmbedding}. */
export interface LoraEmbeddingWeights {
  /** `lora_embedding_A` as `[numEmbeddings, r]` (PEFT stores `[r, numEmbeddings]`): a row per token. */
  readonly a: tf.Variable<tf.Rank.R2>;
  /** `lora_embedding_B` as `[r, embeddingDim]` (PEFT stores `[embeddingDim, r]`). */
  readonly b: tf.Variable<tf.Rank.R2>;
}

interface Adapter extends LoraEmbeddingWeights {
  readonly r: number;
  readonly loraAlpha: number;
  readonly scaling: number;
  readonly trainable: boolean;
}

/**
 * A token embedding with LoRA adapters, PEFT's `lora.Embedding`: `y = base(ids) + (A[ids] · B) · s ·
 * embedScale`, where `A[ids]` is a row gather (PEFT `F.embedding(x, lora_embedding_A.T)`), `s` is
 * `α/r` (or `α/√r` with rsLoRA) and `embedScale` the base's output multiplier (Gemma's √hidden),
 * applied to the adapter output as PEFT does. As in PEFT, `lora_dropout` is not applied to
 * embedding inputs, default init is A = 0 and B ~ N(0, 1), and `init_lora_weights` false draws both
 * from N(0, 1). The gather's gradient is a scatter-add that runs on every backend (wasm included).
 */
export class LoraEmbedding implements EmbeddingLike {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  /** Dropout is never applied to embedding LoRA (PEFT); kept for symmetry with {@link LoraLinear}. */
  training = false;
  /** While true the layer outputs the base embedding exactly. */
  disabled = false;
  private baseLayer: EmbeddingLike;
  private readonly adapters = new Map<string, Adapter>();
  private active: string[] = [];
  private readonly merged: string[] = [];

  constructor(base: EmbeddingLike) {
    this.baseLayer = base;
    this.numEmbeddings = base.numEmbeddings;
    this.embeddingDim = base.embeddingDim;
  }

  /** The base output multiplier (1, or Gemma's √hidden). */
  get scale(): number {
    return this.baseLayer.scale;
  }

  /** The wrapped base embedding (PEFT's `base_layer`). */
  get base(): EmbeddingLike {
    return this.baseLayer;
  }

  /** Names of the adapters this layer holds. */
  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** Names of the active adapters (those present in this layer). */
  activeAdapters(): string[] {
    return this.active.filter((n) => this.adapters.has(n));
  }

  /** Names of the adapters merged into the base table. */
  mergedAdapters(): string[] {
    return [...this.merged];
  }

  /** Rank and alpha of an adapter. */
  rank(name: string): { r: number; loraAlpha: number } {
    const a = this.require(name);
    return { r: a.r, loraAlpha: a.loraAlpha };
  }

  /** Scaling `s` of an adapter. */
  scaling(name: string): number {
    return this.require(name).scaling;
  }

  /** The variables of an adapter (owned by the layer). */
  weights(name: string): LoraEmbeddingWeights {
    const { a, b } = this.require(name);
    return { a, b };
  }

  /**
   * Adds an adapter (inactive until {@link LoraEmbedding.setAdapter}).
   *
   * @throws InvalidArgumentError for DoRA (PEFT's embedding DoRA variant is not implemented) or a bad `r`.
   */
  addAdapter(name: string, options: LoraAdapterOptions): void {
    const where = options.path ?? 'embedding';
    if (this.adapters.has(name))
      throw new InvalidArgumentError({ argument: 'adapterName', message: `${where} already has an adapter "${name}"; delete it first.` });
    if (!Number.isInteger(options.r) || options.r <= 0)
      throw new InvalidArgumentError({ argument: 'r', message: `\`r\` must be a positive integer (got ${options.r}) at ${where}.` });
    if (options.useDora) {
      throw new InvalidArgumentError({
        argument: 'LoraConfig.useDora',
        message: `DoRA on an embedding (${where}) is not supported by @lora/peft; exclude embed_tokens from \`target_modules\` or set \`use_dora\` false.`,
      });
    }
    const { r, rng } = options;
    const [n, d] = [this.numEmbeddings, this.embeddingDim];
    const scaling = options.useRslora ? options.loraAlpha / Math.sqrt(r) : options.loraAlpha / r;
    // PEFT: A = 0, B ~ N(0, 1) for every truthy init (PiSSA / OLoRA do not apply to embeddings);
    // init false keeps both from torch.randn.
    const aInit =
      options.initLoraWeights === false
        ? tf.tensor2d(
            Float32Array.from({ length: n * r }, () => rng.normal()),
            [n, r],
          )
        : tf.zeros([n, r]);
    const bInit = tf.tensor2d(
      Float32Array.from({ length: r * d }, () => rng.normal()),
      [r, d],
    );
    const a = tf.variable(aInit, options.trainable) as tf.Variable<tf.Rank.R2>;
    const b = tf.variable(bInit, options.trainable) as tf.Variable<tf.Rank.R2>;
    tf.dispose([aInit, bInit]);
    this.adapters.set(name, { a, b, r, loraAlpha: options.loraAlpha, scaling, trainable: options.trainable });
  }

  /** Replaces an adapter's values from PEFT's layouts (`lora_embedding_A` `[r, num]`, `lora_embedding_B` `[dim, r]`). */
  assignFromTorch(name: string, values: { a: Float32Array; b: Float32Array }): void {
    const adapter = this.require(name);
    const { r } = adapter;
    tf.tidy(() => {
      adapter.a.assign(tf.transpose(tf.tensor2d(values.a, [r, this.numEmbeddings])));
      adapter.b.assign(tf.transpose(tf.tensor2d(values.b, [this.embeddingDim, r])));
    });
  }

  /** Reads an adapter back in PEFT's layouts (`lora_embedding_A` `[r, num]`, `lora_embedding_B` `[dim, r]`). */
  async toTorch(name: string): Promise<{ a: Float32Array; b: Float32Array }> {
    const adapter = this.require(name);
    const [at, bt] = tf.tidy(() => [tf.transpose(adapter.a), tf.transpose(adapter.b)]);
    const a = (await (at as tf.Tensor).data()) as Float32Array;
    const b = (await (bt as tf.Tensor).data()) as Float32Array;
    tf.dispose([at, bt] as tf.Tensor[]);
    return { a, b };
  }

  /** Makes `names` the active adapters (names this layer lacks are skipped, as in PEFT). */
  setAdapter(names: readonly string[]): void {
    this.active = [...names];
  }

  /** Removes an adapter and frees its variables. */
  deleteAdapter(name: string): void {
    const adapter = this.require(name);
    if (this.merged.includes(name)) throw new LoraError(`adapter "${name}" is merged into the base table; unmerge it before deleting it.`);
    tf.dispose([adapter.a, adapter.b]);
    this.adapters.delete(name);
    this.active = this.active.filter((n) => n !== name);
  }

  apply(ids: tf.Tensor2D): tf.Tensor3D {
    if (this.disabled && this.merged.length > 0) this.unmerge();
    const names = this.disabled || this.merged.length > 0 ? [] : this.activeAdapters();
    if (names.length === 0) return this.baseLayer.apply(ids);
    return tf.tidy(() => {
      const [batch, length] = ids.shape;
      const flat = tf.reshape(ids, [-1]) as tf.Tensor1D;
      let result = tf.reshape(this.baseLayer.apply(ids), [batch * length, this.embeddingDim]) as tf.Tensor2D;
      for (const name of names) {
        const ad = this.adapters.get(name) as Adapter;
        let out = tf.mul(matMul2d(gatherRows(ad.a, flat), ad.b), ad.scaling);
        if (this.scale !== 1) out = tf.mul(out, this.scale);
        result = tf.add(result, out) as tf.Tensor2D;
      }
      return tf.reshape(result, [batch, length, this.embeddingDim]) as tf.Tensor3D;
    });
  }

  /** Variables of the active, trainable adapters (the base table is frozen). */
  trainableVariables(): tf.Variable[] {
    return this.activeAdapters().flatMap((name) => {
      const ad = this.adapters.get(name) as Adapter;
      return ad.trainable ? [ad.a, ad.b] : [];
    });
  }

  /** `ΔW = s · (B A)ᵀ` of an adapter, `[numEmbeddings, embeddingDim]` (PEFT `get_delta_weight`). */
  deltaWeight(name: string): tf.Tensor2D {
    const ad = this.require(name);
    return tf.tidy(() => tf.mul(matMul2d(ad.a, ad.b), ad.scaling) as tf.Tensor2D);
  }

  /** The effective table `[numEmbeddings, embeddingDim]`, unscaled: the base plus the active adapters. */
  denseWeight(): tf.Tensor2D {
    if (this.disabled || this.merged.length > 0) return this.baseLayer.denseWeight();
    return tf.tidy(() => {
      let w = this.baseLayer.denseWeight();
      for (const name of this.activeAdapters()) w = tf.add(w, this.deltaWeight(name)) as tf.Tensor2D;
      return w;
    });
  }

  /**
   * Folds the active adapters (or `names`) into the base table (PEFT `merge`): the base becomes an
   * `Embedding` owning `W + ΔW`. A base whose table is shared with a tied `lm_head` is refused
   * (PEFT would change the head too; see `PeftModel.merge`). Asynchronous like the
   * linear layers' merge (`safe` reads a flag back with `await data()`).
   */
  async merge(names: readonly string[] = this.activeAdapters(), { safe = false }: { safe?: boolean } = {}): Promise<void> {
    for (const name of names) {
      if (this.merged.includes(name)) continue;
      const weight = tf.tidy(() => tf.add(this.baseLayer.denseWeight(), this.deltaWeight(name)) as tf.Tensor2D);
      if (safe) {
        const flag = tf.tidy(() => tf.all(tf.isFinite(weight)));
        const finite = (await flag.data())[0] === 1;
        flag.dispose();
        if (!finite) {
          weight.dispose();
          throw new LoraError(`NaNs detected in the merged weights. The adapter "${name}" seems to be broken.`);
        }
      }
      this.rebuildBase(weight);
      this.merged.push(name);
    }
  }

  /** Undoes {@link LoraEmbedding.merge} (last merged first). */
  unmerge(): void {
    while (this.merged.length > 0) {
      const name = this.merged.pop() as string;
      this.rebuildBase(tf.tidy(() => tf.sub(this.baseLayer.denseWeight(), this.deltaWeight(name)) as tf.Tensor2D));
    }
  }

  /**
   * Replaces the base table (`[numEmbeddings, embeddingDim]`, consumed): PEFT loads the base weight
   * saved with an adapted `embed_tokens` into the base layer.
   */
  setBaseWeight(weight: tf.Tensor2D): void {
    if (this.merged.length > 0) {
      weight.dispose();
      throw new LoraError('cannot replace the base table while adapters are merged into it; unmerge first.');
    }
    this.rebuildBase(weight);
  }

  /**
   * Puts `base` in place of the base embedding (same shape; no merged adapters) and returns the old
   * one, which the caller frees: a tied model's loader swaps in an embedding over the new head table.
   */
  replaceBase(base: EmbeddingLike): EmbeddingLike {
    if (base.numEmbeddings !== this.numEmbeddings || base.embeddingDim !== this.embeddingDim || this.merged.length > 0) {
      throw new LoraError(
        `cannot replace the base embedding [${this.numEmbeddings}, ${this.embeddingDim}] with [${base.numEmbeddings}, ${base.embeddingDim}]${this.merged.length > 0 ? ' while adapters are merged' : ''}.`,
      );
    }
    const old = this.baseLayer;
    this.baseLayer = base;
    return old;
  }

  /** Returns the base embedding, freeing every adapter (with merged adapters the base holds them). */
  unload(): EmbeddingLike {
    for (const ad of this.adapters.values()) tf.dispose([ad.a, ad.b]);
    this.adapters.clear();
    this.active = [];
    this.merged.length = 0;
    return this.baseLayer;
  }

  dispose(): void {
    this.unload().dispose();
  }

  /** A new base `Embedding` owning `weight` (consumed), with the same scale; frees the old base. */
  private rebuildBase(weight: tf.Tensor2D): void {
    const old = this.baseLayer;
    if (old instanceof Embedding && old.layout === 'hidden-major') {
      weight.dispose();
      throw new LoraError(
        'the embedding shares its table with a tied lm_head (tie_word_embeddings): changing the table would change the head too. Load the base with `tie_word_embeddings: false` to merge.',
      );
    }
    this.baseLayer = new Embedding(weight, 'vocab-major', { scale: old.scale });
    old.dispose();
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
