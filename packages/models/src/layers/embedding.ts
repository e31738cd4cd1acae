import * as tf from '@tensorflow/tfjs';
import { customGrad } from './custom-grad.js';
import { isRecordingGradients } from './tape.js';

/**
 * A token embedding as the decoders see it: ids `[B, T]` → rows `[B, T, hidden]`. Decoders hold
 * `model.embed_tokens` through this interface, so `@lora/peft` can replace it in place (a trainable
 * copy for `modules_to_save`, trainable token rows) the way it wraps {@link LinearLike} modules.
 */
export interface EmbeddingLike {
  /** Rows of the table (vocabulary size). */
  readonly numEmbeddings: number;
  /** Width of a row (hidden size). */
  readonly embeddingDim: number;
  /** Multiplier applied after lookup (Gemma: √hidden rounded to the weight dtype; 1 otherwise). */
  readonly scale: number;
  /** Looks up `ids` `[B, T]` (int32), returning `[B, T, embeddingDim]` (times {@link scale}). */
  apply(ids: tf.Tensor2D): tf.Tensor3D;
  /** Variables this module trains (empty for a frozen base table). */
  trainableVariables(): tf.Variable[];
  /** The effective table as a dense float32 `[numEmbeddings, embeddingDim]` tensor, unscaled (caller disposes). */
  denseWeight(): tf.Tensor2D;
  /** Frees the module's tensors (a table shared with a tied `lm_head` is left to the head). */
  dispose(): void;
}

/** Options of {@link Embedding}. */
export interface EmbeddingOptions {
  /** Multiplier applied after lookup (default 1). */
  scale?: number;
  /** Make the table a trainable variable (full fine-tuning of the rows); default frozen. */
  trainable?: boolean;
  /** Name of the variable when trainable (unique in the process; default a generated one). */
  name?: string;
  /**
   * Whether the embedding owns the table and frees it in {@link Embedding.dispose} (default true;
   * false when it reads the weight of a tied `lm_head`, which owns it).
   */
  ownsTable?: boolean;
}

/**
 * Token embedding lookup. The table is `[vocab, hidden]`, or `[hidden, vocab]` when it is shared
 * with a tied `lm_head` stored for the flag-free matmul path (one copy serves both).
 */
export class Embedding implements EmbeddingLike {
  readonly numEmbeddings: number;
  readonly embeddingDim: number;
  readonly scale: number;
  /** The table, `[vocab, hidden]` or `[hidden, vocab]` per {@link layout} (a variable when trainable). */
  readonly table: tf.Tensor2D;
  private readonly trainable: boolean;
  private readonly ownsTable: boolean;

  constructor(
    table: tf.Tensor2D,
    /** Axis order of `table`: `vocab-major` `[vocab, hidden]` or `hidden-major` `[hidden, vocab]`. */
    readonly layout: 'vocab-major' | 'hidden-major',
    options: EmbeddingOptions = {},
  ) {
    this.scale = options.scale ?? 1;
    this.trainable = options.trainable ?? false;
    const owns = options.ownsTable ?? true;
    this.table = this.trainable ? tf.variable(table, true, options.name) : table;
    // A trainable table is a fresh variable owned here; the source is freed if it was ours.
    if (this.trainable && owns) table.dispose();
    this.ownsTable = owns || this.trainable;
    const [a, b] = table.shape;
    [this.numEmbeddings, this.embeddingDim] = layout === 'vocab-major' ? [a, b] : [b, a];
  }

  apply(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t] = ids.shape;
      const flat = tf.reshape(ids, [-1]) as tf.Tensor1D;
      // A frozen table needs no gradient: plain gathers (a tied head's table is not transposed).
      const rows = !this.trainable
        ? this.layout === 'vocab-major'
          ? tf.gather(this.table, flat, 0)
          : tf.transpose(tf.gather(this.table, flat, 1))
        : this.layout === 'vocab-major'
          ? gatherRows(this.table, flat)
          : gatherRows(tf.transpose(this.table), flat);
      const scaled = this.scale === 1 ? rows : tf.mul(rows, this.scale);
      return tf.reshape(scaled, [b, t, -1]);
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.trainable ? [this.table as tf.Variable] : [];
  }

  denseWeight(): tf.Tensor2D {
    return this.layout === 'vocab-major' ? this.table.clone() : tf.transpose(this.table);
  }

  dispose(): void {
    if (this.ownsTable) this.table.dispose();
  }
}

// The gradient of a row gather is a scatter-add of the output gradient into the table's rows.
// tfjs' own Gather gradient uses UnsortedSegmentSum, which the wasm backend lacks; ScatterNd
// (which sums duplicate indices) exists on every backend.
const gatherRowsWithGrad = customGrad<[tf.Tensor2D, tf.Tensor1D], tf.Tensor2D>(
  (table: tf.Tensor2D, ids: tf.Tensor1D, save: tf.GradSaveFunc) => {
    save([ids]);
    return {
      value: tf.gather(table, ids, 0),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [idx] = saved as [tf.Tensor1D];
        return [tf.scatterND(tf.reshape(idx, [-1, 1]), dy, table.shape), tf.zerosLike(idx)];
      },
    };
  },
);

/**
 * `table[ids]`: rows of a `[rows, cols]` table at int32 `ids` `[N]`, giving `[N, cols]`. Its
 * gradient with respect to the table is a scatter-add (duplicate ids accumulate), which runs on
 * every backend including wasm (tfjs' `tf.gather` gradient needs UnsortedSegmentSum, which wasm
 * lacks). The ids get no gradient.
 */
export function gatherRows(table: tf.Tensor2D, ids: tf.Tensor1D): tf.Tensor2D {
  if (!isRecordingGradients()) return tf.gather(table, ids, 0);
  return gatherRowsWithGrad(table, ids);
}
