/**
 * The one tfjs boundary of `@lora/data`, exported from the `@lora/data/tensors` subpath so the
 * main entry stays tensor-free. `@tensorflow/tfjs` is an optional peer dependency.
 *
 * @module tensors
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from './batch.js';

/** A {@link Batch} as int32 tensors of shape `[batch, length]`; dispose them (or use `tf.tidy`). */
export interface BatchTensors {
  /** Token ids. */
  readonly inputIds: tf.Tensor2D;
  /** Training targets, -100 where masked. */
  readonly labels: tf.Tensor2D;
  /** 1 on real tokens, 0 on padding (int32: tfjs has no uint8). */
  readonly attentionMask: tf.Tensor2D;
  /** Present when the batch has position ids. */
  readonly positionIds?: tf.Tensor2D;
  /** Present when the batch has segment ids (packed). */
  readonly segmentIds?: tf.Tensor2D;
}

/**
 * Turns a collated {@link Batch} into int32 tensors on the current tfjs backend.
 *
 * @example
 * ```ts
 * import { batchToTensors } from '@lora/data/tensors';
 * const t = batchToTensors(collate(examples, { padId }));
 * try { train(t.inputIds, t.labels); } finally { disposeBatchTensors(t); }
 * ```
 */
export function batchToTensors(batch: Batch): BatchTensors {
  const shape: [number, number] = [batch.shape[0], batch.shape[1]];
  const int = (data: Int32Array | Uint8Array): tf.Tensor2D =>
    tf.tensor2d(data instanceof Int32Array ? data : Int32Array.from(data), shape, 'int32');
  return {
    inputIds: int(batch.inputIds),
    labels: int(batch.labels),
    attentionMask: int(batch.attentionMask),
    ...(batch.positionIds === undefined ? {} : { positionIds: int(batch.positionIds) }),
    ...(batch.segmentIds === undefined ? {} : { segmentIds: int(batch.segmentIds) }),
  };
}

/** Disposes every tensor of a {@link BatchTensors}. */
export function disposeBatchTensors(tensors: BatchTensors): void {
  tf.dispose(
    [tensors.inputIds, tensors.labels, tensors.attentionMask, tensors.positionIds, tensors.segmentIds].filter((t) => t !== undefined),
  );
}
