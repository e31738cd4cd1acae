import * as tf from '@tensorflow/tfjs';

/**
 * Key/value cache of a decoder: per layer, keys and values `[B, KV, S, D]` for every slot seen so
 * far. `offset` counts the slots processed; padding (left-padded batches) is tracked per slot so
 * later forwards mask it. The cache owns its tensors: call {@link KVCache.dispose}.
 */
export class KVCache {
  /** Slots already processed (the next query's slot index). */
  offset = 0;
  private readonly keys: (tf.Tensor4D | undefined)[];
  private readonly values: (tf.Tensor4D | undefined)[];
  private paddingRows: number[][] | undefined;

  constructor(readonly numLayers: number) {
    this.keys = Array.from({ length: numLayers }, () => undefined);
    this.values = Array.from({ length: numLayers }, () => undefined);
  }

  /**
   * Appends `k`/`v` `[B, KV, T, D]` of layer `layer` and returns the full keys and values. The
   * returned tensors belong to the cache.
   */
  update(layer: number, k: tf.Tensor4D, v: tf.Tensor4D): { keys: tf.Tensor4D; values: tf.Tensor4D } {
    const oldK = this.keys[layer];
    const oldV = this.values[layer];
    const keys = tf.keep(oldK === undefined ? k.clone() : tf.concat([oldK, k], 2));
    const values = tf.keep(oldV === undefined ? v.clone() : tf.concat([oldV, v], 2));
    oldK?.dispose();
    oldV?.dispose();
    this.keys[layer] = keys;
    this.values[layer] = values;
    return { keys, values };
  }

  /** The keys and values of layer `layer` so far (owned by the cache), or undefined before its first update. */
  peek(layer: number): { keys: tf.Tensor4D; values: tf.Tensor4D } | undefined {
    const keys = this.keys[layer];
    const values = this.values[layer];
    return keys === undefined || values === undefined ? undefined : { keys, values };
  }

  /** Replaces layer `layer`'s keys and values with ones that already hold the new slots (the cache takes them). */
  replace(layer: number, keys: tf.Tensor4D, values: tf.Tensor4D): void {
    this.keys[layer]?.dispose();
    this.values[layer]?.dispose();
    this.keys[layer] = tf.keep(keys);
    this.values[layer] = tf.keep(values);
  }

  /**
   * Records the padding mask of the new slots (`rows[b][t]`, 1 = real token) and returns the mask
   * over all slots so far. Without padding information every slot counts as real.
   */
  extendPadding(batch: number, newSlots: number, rows: readonly ArrayLike<number>[] | undefined): number[][] | undefined {
    if (rows === undefined && this.paddingRows === undefined) return undefined;
    this.paddingRows ??= Array.from({ length: batch }, () => new Array<number>(this.offset).fill(1));
    for (let b = 0; b < batch; b++) {
      const row = rows?.[b];
      const target = this.paddingRows[b] as number[];
      for (let t = 0; t < newSlots; t++) target.push(row === undefined ? 1 : (row[row.length - newSlots + t] as number));
    }
    return this.paddingRows;
  }

  /**
   * Keeps only the batch rows `rows` (positions in the current batch, ascending) of every layer's
   * keys and values and of the padding mask, e.g. to stop computing rows that finished
   * generating. Later forwards pass the smaller batch.
   */
  keepRows(rows: readonly number[]): void {
    const index = tf.tensor1d(Int32Array.from(rows), 'int32');
    try {
      for (const store of [this.keys, this.values]) {
        store.forEach((t, layer) => {
          if (t === undefined) return;
          store[layer] = tf.gather(t, index, 0);
          t.dispose();
        });
      }
    } finally {
      index.dispose();
    }
    const padding = this.paddingRows;
    if (padding !== undefined) this.paddingRows = rows.map((r) => padding[r] as number[]);
  }

  /** Frees every cached tensor. */
  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(undefined);
    this.values.fill(undefined);
  }
}
