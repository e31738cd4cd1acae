import { InvalidArgumentError } from '@lora/core';
import type { EmbeddingLike, LinearLike } from '@lora/models';
import { Embedding, Linear } from '@lora/models/internal';
import * as tf from '@tensorflow/tfjs';

let copyCounter = 0;

/** A process-unique variable name prefix for a copy (tfjs variable names must be unique). */
function copyName(name: string): string {
  return `modules_to_save-${++copyCounter}/${name}`;
}

/**
 * Per-adapter full copies of one module (PEFT `ModulesToSaveWrapper`): each adapter trains its
 * own copy of the original; the active adapter's copy runs, or the original while disabled or
 * when no adapter is active.
 */
abstract class CopiesOf<M extends { dispose(): void; trainableVariables(): tf.Variable[] }> {
  /** While true the module runs the original exactly. */
  disabled = false;
  protected readonly copies = new Map<string, M>();
  private active: string[] = [];

  constructor(
    /** The module being copied (kept frozen and alive). */
    readonly original: M,
  ) {}

  /** Names of the adapters holding a copy. */
  adapterNames(): string[] {
    return [...this.copies.keys()];
  }

  /** Makes the copies of `names` active (the last one present runs). */
  setAdapter(names: readonly string[]): void {
    this.active = [...names];
  }

  /** The copy of an adapter. */
  copy(name: string): M {
    const m = this.copies.get(name);
    if (m === undefined)
      throw new InvalidArgumentError({ argument: 'adapterName', message: `no modules_to_save copy for adapter "${name}".` });
    return m;
  }

  /** Frees the copy of an adapter. */
  deleteAdapter(name: string): void {
    this.copies.get(name)?.dispose();
    this.copies.delete(name);
  }

  /** The module that runs now: the active copy, or the original. */
  current(): M {
    if (this.disabled) return this.original;
    const name = this.active.filter((n) => this.copies.has(n)).at(-1);
    return name === undefined ? this.original : (this.copies.get(name) as M);
  }

  trainableVariables(): tf.Variable[] {
    const name = this.active.filter((n) => this.copies.has(n)).at(-1);
    return name === undefined ? [] : this.copy(name).trainableVariables();
  }

  /** Frees every copy and gives the original back (the wrapper must not be used afterwards). */
  unload(): M {
    for (const m of this.copies.values()) m.dispose();
    this.copies.clear();
    return this.original;
  }

  dispose(): void {
    for (const m of this.copies.values()) m.dispose();
    this.copies.clear();
    this.original.dispose();
  }
}

/** A linear module with per-adapter trainable copies (`modules_to_save`, e.g. `lm_head`). */
export class ModulesToSaveLinear extends CopiesOf<LinearLike> implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(original: LinearLike) {
    super(original);
    this.inFeatures = original.inFeatures;
    this.outFeatures = original.outFeatures;
  }

  get bias(): tf.Tensor1D | undefined {
    return this.current().bias;
  }

  /** Adds a copy of the original (weight and bias) for adapter `name`. */
  addAdapter(name: string, options: { trainable: boolean }): void {
    this.deleteAdapter(name);
    const bias = this.original.bias?.clone();
    this.copies.set(
      name,
      new Linear(this.original.denseWeight(), {
        trainable: options.trainable,
        name: copyName(name),
        ...(bias === undefined ? {} : { bias }),
      }),
    );
    if (options.trainable) bias?.dispose();
  }

  /** Replaces adapter `name`'s copy by PyTorch-layout values: weight `[out, in]`, bias `[out]`. */
  assignFromTorch(name: string, values: { weight: Float32Array; bias?: Float32Array }, options: { trainable: boolean }): void {
    const existing = this.copies.get(name);
    if (options.trainable && existing instanceof Linear && existing.trainableVariables().length > 0) {
      // In place: an optimizer holding these variables (a resumed run) keeps training them.
      const [w, b] = existing.trainableVariables() as [tf.Variable, tf.Variable | undefined];
      tf.tidy(() => w.assign(tf.transpose(tf.tensor2d(values.weight, [this.outFeatures, this.inFeatures]))));
      if (b !== undefined && values.bias !== undefined) tf.tidy(() => b.assign(tf.tensor1d(values.bias as Float32Array)));
      return;
    }
    this.deleteAdapter(name);
    const bias = values.bias === undefined ? undefined : tf.tensor1d(values.bias);
    this.copies.set(
      name,
      Linear.fromTorch(values.weight, this.outFeatures, this.inFeatures, {
        trainable: options.trainable,
        name: copyName(name),
        ...(bias === undefined ? {} : { bias }),
      }),
    );
    if (options.trainable) bias?.dispose();
  }

  /** Adapter `name`'s copy in PyTorch layout: weight `[out, in]`, bias `[out]` if any. */
  async toTorch(name: string): Promise<{ weight: Float32Array; bias: Float32Array | undefined }> {
    const m = this.copy(name);
    const t = tf.tidy(() => tf.transpose(m.denseWeight()));
    const weight = (await t.data()) as Float32Array;
    t.dispose();
    return { weight, bias: m.bias === undefined ? undefined : ((await m.bias.data()) as Float32Array) };
  }

  apply(x: tf.Tensor): tf.Tensor {
    return this.current().apply(x);
  }

  denseWeight(): tf.Tensor2D {
    return this.current().denseWeight();
  }
}

/** A token embedding with per-adapter trainable copies of its table (`modules_to_save: [embed_tokens]`). */
export class ModulesToSaveEmbedding extends CopiesOf<EmbeddingLike> implements EmbeddingLike {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly scale: number;

  constructor(original: EmbeddingLike) {
    super(original);
    this.numEmbeddings = original.numEmbeddings;
    this.embeddingDim = original.embeddingDim;
    this.scale = original.scale;
  }

  /** Adds a copy of the original table for adapter `name`. */
  addAdapter(name: string, options: { trainable: boolean }): void {
    this.deleteAdapter(name);
    this.copies.set(name, new Embedding(this.original.denseWeight(), 'vocab-major', { scale: this.scale, trainable: options.trainable }));
  }

  /** Replaces adapter `name`'s table by `[numEmbeddings, embeddingDim]` values. */
  assignFromTorch(name: string, table: Float32Array, options: { trainable: boolean }): void {
    const existing = this.copies.get(name);
    const [v] = existing?.trainableVariables() ?? [];
    if (options.trainable && v !== undefined) {
      // In place: an optimizer holding the variable (a resumed run) keeps training it.
      tf.tidy(() => v.assign(tf.tensor2d(table, [this.numEmbeddings, this.embeddingDim])));
      return;
    }
    this.deleteAdapter(name);
    const t = tf.tensor2d(table, [this.numEmbeddings, this.embeddingDim]);
    this.copies.set(name, new Embedding(t, 'vocab-major', { scale: this.scale, trainable: options.trainable }));
  }

  /** Adapter `name`'s table `[numEmbeddings, embeddingDim]`. */
  async toTorch(name: string): Promise<Float32Array> {
    const t = this.copy(name).denseWeight();
    const data = (await t.data()) as Float32Array;
    t.dispose();
    return data;
  }

  apply(ids: tf.Tensor2D): tf.Tensor3D {
    return this.current().apply(ids);
  }

  denseWeight(): tf.Tensor2D {
    return this.current().denseWeight();
  }
}
