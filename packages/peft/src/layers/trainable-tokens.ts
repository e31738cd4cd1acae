import { InvalidArgumentError } from '@lora/core';
import type { EmbeddingLike, LinearLike } from '@lora/models';
import * as tf from '@tensorflow/tfjs';

/** One adapter's trained rows: the token ids and their values `[k, hidden]`. */
export interface TokenAdapter {
  readonly indices: readonly number[];
  /** `trainable_tokens_delta`: the rows' new values (not a difference, despite PEFT's name). */
  delta: tf.Variable<tf.Rank.R2> | tf.Tensor2D;
  /** Per vocabulary id, its row in `delta`, or -1 (int32 `[vocab]`). */
  readonly slotOf: tf.Tensor1D;
  /** One-hot `[k, vocab]` placing row `i` of `delta` at column `indices[i]` (the tied head). */
  readonly placement: tf.Tensor2D;
  /** 1 for the vocabulary ids left alone, 0 for trained ones (`[vocab]`). */
  readonly keep: tf.Tensor1D;
}

/** Checks PEFT `trainable_token_indices` against a vocabulary: integers in range, no repeats. */
export function checkTokenIndices(indices: readonly number[], vocab: number, argument: string): void {
  const seen = new Set<number>();
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= vocab) {
      throw new InvalidArgumentError({ argument, message: `token index ${i} is outside the vocabulary [0, ${vocab}).` });
    }
    if (seen.has(i)) throw new InvalidArgumentError({ argument, message: `token index ${i} is listed twice.` });
    seen.add(i);
  }
  if (indices.length === 0) throw new InvalidArgumentError({ argument, message: 'the list of token indices is empty.' });
}

/**
 * Trainable rows of a token embedding (PEFT `TrainableTokensLayer`): adapter `name` replaces the
 * rows `indices` of the table by its own values (`trainable_tokens_delta`, initialised from the
 * original rows), leaving every other row frozen. Only those `k × hidden` values train.
 *
 * The lookup is `base(ids) · keep[ids] + onehot(slot[ids], k) · delta · scale`, exact (each
 * output row is one base row or one delta row) and with a plain matmul gradient, so it trains on
 * every backend.
 */
export class TrainableTokensEmbedding implements EmbeddingLike {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly scale: number;
  /** While true the module runs the base embedding exactly. */
  disabled = false;
  private readonly adapters = new Map<string, TokenAdapter>();
  private active: string[] = [];

  constructor(
    /** The wrapped embedding (frozen, kept alive). */
    readonly base: EmbeddingLike,
  ) {
    this.numEmbeddings = base.numEmbeddings;
    this.embeddingDim = base.embeddingDim;
    this.scale = base.scale;
  }

  /** Names of the adapters this layer holds. */
  adapterNames(): string[] {
    return [...this.adapters.keys()];
  }

  /** Token ids an adapter trains, in `trainable_tokens_delta` row order. */
  tokenIndices(name: string): readonly number[] {
    return this.require(name).indices;
  }

  /** Active adapters present here, in application order. */
  activeAdapters(): string[] {
    return this.disabled ? [] : this.active.filter((n) => this.adapters.has(n));
  }

  /** Makes `names` active (applied in order, as PEFT does). */
  setAdapter(names: readonly string[]): void {
    this.active = [...names];
  }

  /**
   * Adds adapter `name` training the rows `indices`, initialised from the base table's rows
   * (PEFT `init_weights=True`).
   */
  addAdapter(name: string, indices: readonly number[], options: { trainable: boolean }): void {
    checkTokenIndices(indices, this.numEmbeddings, 'trainableTokenIndices');
    this.deleteAdapter(name);
    const vocab = this.numEmbeddings;
    const slot = new Int32Array(vocab).fill(-1);
    const keep = new Float32Array(vocab).fill(1);
    indices.forEach((id, i) => {
      slot[id] = i;
      keep[id] = 0;
    });
    const rows = tf.tidy(() => {
      const table = this.base.denseWeight();
      return tf.gather(table, tf.tensor1d([...indices], 'int32'), 0) as tf.Tensor2D;
    });
    const delta = options.trainable ? tf.variable(rows, true) : rows;
    if (delta !== rows) rows.dispose();
    this.adapters.set(name, {
      indices: Object.freeze([...indices]),
      delta,
      slotOf: tf.tensor1d(slot, 'int32'),
      placement: tf.tidy(() => tf.oneHot(tf.tensor1d([...indices], 'int32'), vocab).toFloat() as tf.Tensor2D),
      keep: tf.tensor1d(keep),
    });
  }

  /** Sets adapter `name`'s rows from `[k, hidden]` values (a loaded `trainable_tokens_delta`). */
  assignDelta(name: string, values: Float32Array): void {
    const ad = this.require(name);
    const t = tf.tensor2d(values, [ad.indices.length, this.embeddingDim]);
    if (ad.delta instanceof tf.Variable) {
      ad.delta.assign(t);
      t.dispose();
    } else {
      ad.delta.dispose();
      ad.delta = t;
    }
  }

  /** Adapter `name`'s rows `[k, hidden]` as a host array. */
  async deltaValues(name: string): Promise<Float32Array> {
    return (await this.require(name).delta.data()) as Float32Array;
  }

  /** The parts of an adapter the tied head reads. */
  adapterTensors(name: string): Readonly<TokenAdapter> {
    return this.require(name);
  }

  /** Frees an adapter. */
  deleteAdapter(name: string): void {
    const ad = this.adapters.get(name);
    if (ad === undefined) return;
    tf.dispose([ad.delta, ad.slotOf, ad.placement, ad.keep]);
    this.adapters.delete(name);
  }

  apply(ids: tf.Tensor2D): tf.Tensor3D {
    const active = this.activeAdapters();
    if (active.length === 0) return this.base.apply(ids);
    return tf.tidy(() => {
      const [b, t] = ids.shape;
      const flat = tf.reshape(ids, [-1]) as tf.Tensor1D;
      let rows = tf.reshape(this.base.apply(ids), [b * t, this.embeddingDim]) as tf.Tensor2D;
      for (const name of active) {
        const ad = this.require(name);
        const onehot = tf.oneHot(tf.gather(ad.slotOf, flat), ad.indices.length).toFloat() as tf.Tensor2D;
        const delta = this.scale === 1 ? ad.delta : tf.mul(ad.delta, this.scale);
        rows = tf.add(tf.mul(rows, tf.reshape(tf.gather(ad.keep, flat), [-1, 1])), tf.matMul(onehot, delta as tf.Tensor2D));
      }
      return tf.reshape(rows, [b, t, this.embeddingDim]);
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.activeAdapters().flatMap((n) => {
      const d = this.require(n).delta;
      return d instanceof tf.Variable && d.trainable ? [d] : [];
    });
  }

  /** The table with the active adapters' rows in place `[vocab, hidden]` (PEFT `get_merged_weights`). */
  denseWeight(): tf.Tensor2D {
    return tf.tidy(() => {
      let table = this.base.denseWeight();
      for (const name of this.activeAdapters()) {
        const ad = this.require(name);
        table = tf.add(tf.mul(table, tf.reshape(ad.keep, [-1, 1])), tf.matMul(ad.placement, ad.delta, true, false));
      }
      return table;
    });
  }

  /** Frees every adapter and gives the base embedding back. */
  unload(): EmbeddingLike {
    for (const name of this.adapterNames()) this.deleteAdapter(name);
    return this.base;
  }

  dispose(): void {
    this.unload();
    this.base.dispose();
  }

  private require(name: string): TokenAdapter {
    const ad = this.adapters.get(name);
    if (ad === undefined) {
      throw new InvalidArgumentError({ argument: 'adapterName', message: `no trainable-tokens adapter "${name}" on model.embed_tokens.` });
    }
    return ad;
  }
}

/**
 * The `lm_head` of a model whose head shares the embedding's weight, following a
 * {@link TrainableTokensEmbedding} (PEFT's tied `TrainableTokensLayer`): the logits of the
 * trained tokens use the adapter's rows, `base(x) · keep + (x · deltaᵀ) · placement`. Owns no
 * adapter tensors.
 */
export class TrainableTokensLinear implements LinearLike {
  readonly inFeatures: number;
  readonly outFeatures: number;

  constructor(
    /** The wrapped head (frozen, kept alive: the embedding may read its weight). */
    readonly base: LinearLike,
    /** The embedding layer whose adapters this head follows. */
    readonly tiedTo: TrainableTokensEmbedding,
  ) {
    this.inFeatures = base.inFeatures;
    this.outFeatures = base.outFeatures;
  }

  get bias(): tf.Tensor1D | undefined {
    return this.base.bias;
  }

  apply(x: tf.Tensor): tf.Tensor {
    const active = this.tiedTo.activeAdapters();
    if (active.length === 0) return this.base.apply(x);
    return tf.tidy(() => {
      let y = this.base.apply(x);
      const lead = x.shape.slice(0, -1);
      const x2 = tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
      let y2 = tf.reshape(y, [-1, this.outFeatures]) as tf.Tensor2D;
      for (const name of active) {
        const ad = this.tiedTo.adapterTensors(name);
        const own = tf.matMul(x2, tf.transpose(ad.delta)); // [N, k]
        y2 = tf.add(tf.mul(y2, ad.keep), tf.matMul(own, ad.placement));
      }
      y = tf.reshape(y2, [...lead, this.outFeatures]);
      return y;
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.tiedTo.trainableVariables();
  }

  denseWeight(): tf.Tensor2D {
    return tf.tidy(() => {
      let w = this.base.denseWeight(); // [in, out]
      for (const name of this.tiedTo.activeAdapters()) {
        const ad = this.tiedTo.adapterTensors(name);
        w = tf.add(tf.mul(w, ad.keep), tf.matMul(tf.transpose(ad.delta), ad.placement));
      }
      return w;
    });
  }

  /** Gives the base head back. */
  unload(): LinearLike {
    return this.base;
  }

  dispose(): void {
    this.base.dispose();
  }
}
