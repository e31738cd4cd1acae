import * as tf from '@tensorflow/tfjs';

/**
 * Token embedding lookup. The table is `[vocab, hidden]`, or `[hidden, vocab]` when it is shared
 * with a tied `lm_head` stored for the flag-free matmul path (one copy serves both).
 */
export class Embedding {
  constructor(
    private readonly table: tf.Tensor2D,
    private readonly layout: 'vocab-major' | 'hidden-major',
    /** Multiplier applied after lookup (Gemma: √hidden rounded to the weight dtype). */
    readonly scale = 1,
  ) {}

  /** Looks up `ids` `[B, T]` (int32), returning `[B, T, hidden]`. */
  apply(ids: tf.Tensor2D): tf.Tensor3D {
    return tf.tidy(() => {
      const [b, t] = ids.shape;
      const flat = tf.reshape(ids, [-1]);
      const rows = this.layout === 'vocab-major' ? tf.gather(this.table, flat, 0) : tf.transpose(tf.gather(this.table, flat, 1));
      const scaled = this.scale === 1 ? rows : tf.mul(rows, this.scale);
      return tf.reshape(scaled, [b, t, -1]);
    });
  }

  /** Frees the table (skip when it is shared with the lm_head that owns it). */
  dispose(): void {
    this.table.dispose();
  }
}
