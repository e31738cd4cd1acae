import * as tf from '@tensorflow/tfjs';

/** What the forward of a {@link customGrad} op returns: its value and the gradients of its inputs. */
export interface CustomGradResult<O extends tf.Tensor> {
  /** The op's output. */
  value: O;
  /** The inputs' gradients (one per input, in order) from the output's gradient `dy` and what `save` kept. */
  gradFunc: (dy: O, saved: tf.Tensor[]) => tf.Tensor | tf.Tensor[];
}

/**
 * `tf.customGrad` with typed inputs and output. tfjs types the forward as
 * `(...inputs: (Tensor | GradSaveFunc)[]) => …`, which no function with typed parameters
 * satisfies, and the result as `(...args: Tensor[]) => T`; here the forward takes the inputs `I`
 * and then `save`, as the engine calls it, and the result takes exactly `I`. Give both type
 * arguments at the call: `customGrad<[tf.Tensor2D, tf.Tensor2D], tf.Tensor2D>((x, w, save) => …)`.
 */
export function customGrad<I extends tf.Tensor[], O extends tf.Tensor>(
  forward: (...args: [...inputs: I, save: tf.GradSaveFunc]) => CustomGradResult<O>,
): (...inputs: I) => O {
  // The one cast: the engine passes the inputs followed by `save`, which the typed signature says.
  return tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad<O>>[0]);
}
