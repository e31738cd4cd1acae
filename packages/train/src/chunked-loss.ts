import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError } from '@lora/core';
import type { CausalLM, ForwardOptions, OutputHead } from '@lora/models';
import { Linear, customGrad, fastFlaggedMatMul, isRecordingGradients } from '@lora/models/internal';
import { type ShiftedTargets, type TokenLossSum, causalLmLossSum, crossEntropySum, shiftedTargets } from './loss.js';

/** Float32 logits per chunk when the chunk size is automatic: 8 MiB (42 rows of a 49k vocabulary). */
const AUTO_CHUNK_BYTES = 8 * 1024 * 1024;

/**
 * Rows of logits per chunk: `size` itself, or for `'auto'` as many as fit in 8 MiB of float32
 * logits (at least 16).
 */
export function lossChunkRows(size: number | 'auto', vocab: number): number {
  if (size !== 'auto') return size;
  return Math.max(16, Math.floor(AUTO_CHUNK_BYTES / (4 * vocab)));
}

/**
 * Summed causal-LM cross-entropy from the final hidden states, applying `lm_head` (and any final
 * soft-capping) to `chunkRows` rows at a time, so that the `[B·T, vocab]` logits, their softmax
 * and their gradient never exist at once: at most one chunk's do. Same value and gradients as
 * {@link causalLmLossSum} of the full logits, up to float32 rounding.
 *
 * With a frozen dense head (a plain `Linear`, e.g. a tied embedding under LoRA) the gradient with
 * respect to the hidden states is computed chunk by chunk during the forward pass and only that
 * `[B·T, hidden]` tensor is kept for the backward pass: the head's matmuls are the same two as
 * without chunking. Any other head (LoRA on `lm_head`, a trainable or quantized head) keeps only
 * the hidden states and recomputes each chunk's logits in the backward pass (one more head
 * matmul), with gradients for the head's trainable variables.
 *
 * @param hidden - `[batch, length, hidden]`: the model's output with `output: 'hidden'`.
 * @param head - The model's {@link OutputHead}.
 * @param labels - `[batch, length]` row-major, -100 where masked (not yet shifted).
 * @param chunkRows - Rows (tokens) of logits per chunk, ≥ 1.
 */
export function chunkedCausalLmLossSum(hidden: tf.Tensor3D, head: OutputHead, labels: ArrayLike<number>, chunkRows: number): TokenLossSum {
  const [b, t, d] = hidden.shape;
  const v = head.lmHead.outFeatures;
  if (head.lmHead.inFeatures !== d) {
    throw new InvalidArgumentError({
      argument: 'hidden',
      message: `has ${d} features per token; lm_head takes ${head.lmHead.inFeatures} (was the forward run with output: 'hidden'?).`,
    });
  }
  if (!Number.isInteger(chunkRows) || chunkRows < 1) {
    throw new InvalidArgumentError({ argument: 'chunkRows', message: `${chunkRows} is not a whole number of rows ≥ 1.` });
  }
  const targets = shiftedTargets(labels, b, t, v);
  const sum = tf.tidy(() => {
    const hidden2d = tf.reshape(hidden, [b * t, d]) as tf.Tensor2D;
    const variables = head.lmHead.trainableVariables();
    if (!isRecordingGradients()) {
      // No gradient wanted (evaluation): the chunks' losses alone.
      const logitsOf = headLogitsFn(head);
      const sums = trainedChunks(targets, b * t, chunkRows).map(([start, rows]) =>
        tf.tidy(() => crossEntropySum(logitsOf(tf.slice(hidden2d, [start, 0], [rows, d])), targets, start)),
      );
      return sums.length === 0 ? tf.scalar(0) : (tf.addN(sums) as tf.Scalar);
    }
    if (variables.length === 0 && head.lmHead instanceof Linear) {
      return frozenHeadLoss(head.lmHead, head.finalLogitSoftcapping)(hidden2d, targets, chunkRows);
    }
    return recomputedHeadLoss(head, variables)(hidden2d, targets, chunkRows);
  });
  return { sum, count: targets.count };
}

/** The chunks `[start, rows]` of `n` rows that hold at least one trained row. */
function trainedChunks(targets: ShiftedTargets, n: number, chunkRows: number): [number, number][] {
  const chunks: [number, number][] = [];
  for (let start = 0; start < n; start += chunkRows) {
    const rows = Math.min(chunkRows, n - start);
    if (targets.weights.subarray(start, start + rows).some((w) => w !== 0)) chunks.push([start, rows]);
  }
  return chunks;
}

/** Logits of hidden rows `h` through a frozen linear head, soft-capped when `cap` is set. */
function headLogits(layer: Linear, cap: number | undefined, h: tf.Tensor2D): tf.Tensor2D {
  let z: tf.Tensor2D = tf.matMul(h, layer.weight);
  if (layer.bias !== undefined) z = tf.add(z, layer.bias) as tf.Tensor2D;
  return cap === undefined ? z : tf.mul(tf.tanh(tf.div(z, cap)), cap);
}

/**
 * Loss through a frozen `Linear` head: each chunk's logits → loss and `dLoss/dHidden` (softmax −
 * one-hot, through the cap's derivative `1 − (logits/c)²`, times `Wᵀ`) in the forward pass.
 */
function frozenHeadLoss(layer: Linear, cap: number | undefined) {
  return (hidden2d: tf.Tensor2D, targets: ShiftedTargets, chunkRows: number): tf.Scalar => {
    const [n, d] = hidden2d.shape;
    const v = layer.outFeatures;
    const run = customGrad<[tf.Tensor2D], tf.Scalar>((x: tf.Tensor2D, save: tf.GradSaveFunc) => {
      const sums: tf.Scalar[] = [];
      const grads: tf.Tensor2D[] = [];
      const fast = fastFlaggedMatMul();
      const wT = fast ? undefined : tf.transpose(layer.weight);
      let covered = 0;
      for (const [start, rows] of trainedChunks(targets, n, chunkRows)) {
        if (start > covered) grads.push(tf.zeros([start - covered, d]));
        const [loss, grad] = tf.tidy(() => {
          const h = tf.slice(x, [start, 0], [rows, d]);
          const logits = headLogits(layer, cap, h);
          const tg = targets.targets.subarray(start, start + rows);
          const flatIndex = new Int32Array(rows);
          for (let i = 0; i < rows; i++) flatIndex[i] = i * v + (tg[i] as number);
          const w = tf.tensor1d(targets.weights.subarray(start, start + rows));
          const lse = tf.logSumExp(logits, 1);
          const picked = tf.gather(tf.reshape(logits, [-1]), tf.tensor1d(flatIndex, 'int32'));
          const value = tf.sum(tf.mul(tf.sub(lse, picked), w)) as tf.Scalar;
          const probs = tf.exp(tf.sub(logits, tf.expandDims(lse, 1)));
          let dz = tf.mul(tf.sub(probs, tf.oneHot(tf.tensor1d(tg, 'int32'), v)), tf.expandDims(w, 1));
          if (cap !== undefined) dz = tf.mul(dz, tf.sub(1, tf.square(tf.div(logits, cap))));
          const dh = (fast ? tf.matMul(dz, layer.weight, false, true) : tf.matMul(dz, wT as tf.Tensor2D)) as tf.Tensor2D;
          return [value, dh] as [tf.Scalar, tf.Tensor2D];
        });
        sums.push(loss);
        grads.push(grad);
        covered = start + rows;
      }
      if (covered < n) grads.push(tf.zeros([n - covered, d]));
      wT?.dispose();
      const dHidden = grads.length === 1 ? (grads[0] as tf.Tensor2D) : tf.concat(grads, 0);
      if (grads.length > 1) tf.dispose(grads);
      const value = sums.length === 0 ? tf.scalar(0) : sums.length === 1 ? (sums[0] as tf.Scalar) : tf.addN(sums);
      if (sums.length > 1) tf.dispose(sums);
      save([dHidden]);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.mul(saved[0] as tf.Tensor, dy),
      };
    });
    return run(hidden2d);
  };
}

/** Logits of hidden rows through any head (`lm_head.apply`, then the soft-capping). */
function headLogitsFn(head: OutputHead): (h: tf.Tensor2D) => tf.Tensor2D {
  return (h) => {
    const z = head.lmHead.apply(h) as tf.Tensor2D;
    const cap = head.finalLogitSoftcapping;
    return cap === undefined ? z : tf.mul(tf.tanh(tf.div(z, cap)), cap);
  };
}

/**
 * Loss through any head: the forward pass keeps only the hidden states; the backward pass
 * recomputes each chunk's loss under a nested tape for the gradients of the hidden rows and of the
 * head's trainable `variables`.
 */
function recomputedHeadLoss(head: OutputHead, variables: tf.Variable[]) {
  const logitsOf = headLogitsFn(head);
  return (hidden2d: tf.Tensor2D, targets: ShiftedTargets, chunkRows: number): tf.Scalar => {
    const [n, d] = hidden2d.shape;
    const chunks = trainedChunks(targets, n, chunkRows);
    const run = customGrad<[tf.Tensor2D, ...tf.Variable[]], tf.Scalar>((...args: unknown[]) => {
      const save = args[args.length - 1] as tf.GradSaveFunc;
      const x = args[0] as tf.Tensor2D;
      save([x]);
      const sums = chunks.map(([start, rows]) =>
        tf.tidy(() => crossEntropySum(logitsOf(tf.slice(x, [start, 0], [rows, d])), targets, start)),
      );
      const value = sums.length === 0 ? tf.scalar(0) : tf.addN(sums);
      tf.dispose(sums);
      return {
        value,
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const xs = saved[0] as tf.Tensor2D;
          const dHidden: tf.Tensor2D[] = [];
          const dVars: (tf.Tensor | undefined)[] = variables.map(() => undefined);
          // A nested gradient during backprop replaces the engine's tape and clears it when done
          // (tfjs 4.22 treats it as first-order): keep the outer tape and put it back.
          const state = tf.engine().state;
          let covered = 0;
          for (const [start, rows] of chunks) {
            if (start > covered) dHidden.push(tf.zeros([start - covered, d]));
            const h = tf.slice(xs, [start, 0], [rows, d]);
            const outerTape = state.activeTape;
            let result: { value: tf.Tensor; grads: (tf.Tensor | undefined)[] };
            try {
              result = tf.engine().gradients(() => crossEntropySum(logitsOf(h), targets, start), [h, ...variables], dy as tf.Scalar, true);
            } finally {
              state.activeTape = outerTape;
            }
            result.value.dispose();
            h.dispose();
            const [dh, ...dv] = result.grads;
            dHidden.push((dh ?? tf.zeros([rows, d])) as tf.Tensor2D);
            dv.forEach((g, i) => {
              if (g === undefined) return;
              const old = dVars[i];
              dVars[i] = old === undefined ? g : tf.add(old, g);
              if (old !== undefined) {
                old.dispose();
                g.dispose();
              }
            });
            covered = start + rows;
          }
          if (covered < n) dHidden.push(tf.zeros([n - covered, d]));
          const dx = dHidden.length === 1 ? (dHidden[0] as tf.Tensor2D) : tf.concat(dHidden, 0);
          if (dHidden.length > 1) tf.dispose(dHidden);
          return [dx, ...dVars.map((g, i) => g ?? tf.zerosLike(variables[i] as tf.Variable))];
        },
      };
    });
    return run(hidden2d, ...variables);
  };
}

/** Options of {@link modelLossSum}. */
export interface ModelLossOptions {
  /**
   * Rows (tokens) of logits per chunk of the loss, `'auto'` (default: 8 MiB of float32 logits per
   * chunk) or `0` for the full `[B·T, vocab]` logits at once.
   */
  chunkSize?: number | 'auto';
}

/** The {@link OutputHead} of a model or of the model it wraps (`baseModel`, e.g. a `PeftModel`). */
function outputHeadOf(model: CausalLM): OutputHead | undefined {
  let inner: unknown = model;
  for (let depth = 0; depth < 8 && inner !== undefined; depth++) {
    const m = inner as Partial<CausalLM> & { baseModel?: unknown };
    if (typeof m.outputHead === 'function') return m.outputHead();
    inner = m.baseModel;
  }
  return undefined;
}

/**
 * Runs `model` on `inputIds` and returns its summed causal-LM loss over `labels` — chunked over
 * the vocabulary projection ({@link chunkedCausalLmLossSum}) where the model exposes its
 * {@link OutputHead} and `chunkSize` is not 0, else {@link causalLmLossSum} of the full logits.
 *
 * @example
 * ```ts
 * const { sum, count } = modelLossSum(model, ids, labels, {}, { chunkSize: 'auto' });
 * ```
 */
export function modelLossSum(
  model: CausalLM,
  inputIds: tf.Tensor2D,
  labels: ArrayLike<number>,
  forwardOptions: ForwardOptions = {},
  options: ModelLossOptions = {},
): TokenLossSum {
  const size = options.chunkSize ?? 'auto';
  const head = size === 0 ? undefined : outputHeadOf(model);
  if (head === undefined || forwardOptions.logitsToKeep !== undefined) {
    return causalLmLossSum(model.forward(inputIds, forwardOptions), labels);
  }
  const hidden = model.forward(inputIds, { ...forwardOptions, output: 'hidden' });
  return chunkedCausalLmLossSum(hidden, head, labels, lossChunkRows(size, head.lmHead.outFeatures));
}
