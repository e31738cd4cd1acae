import { LoraError, type LoraErrorOptions } from '@lora/core';
import type { ModelConfig } from '../config/model-config.js';

/**
 * The most memory the wasm backend can address: tfjs-backend-wasm is a 32-bit WebAssembly module,
 * so its heap stops at 4 GiB (and a larger allocation aborts the process with `Aborted()`).
 */
export const WASM_HEAP_LIMIT_BYTES = 4 * 1024 ** 3;

/** Work that the memory estimate covers besides holding the weights. */
export interface MemoryWorkload {
  /** Training (activations kept for the backward pass) or inference (one forward at a time). */
  readonly kind: 'training' | 'inference';
  /** Rows per step (micro-batch size, or generation batch). */
  readonly batchSize: number;
  /** Tokens per row (the longest sequence the step sees). */
  readonly sequenceLength: number;
}

/** What {@link estimateMemory} found, in bytes. */
export interface MemoryEstimate {
  /** The decoder's parameters as float32 (plus the transposed copy of a tied embedding). */
  readonly weights: number;
  /** Intermediate tensors: every op output the gradient tape keeps (training), one layer's (inference). */
  readonly activations: number;
  /** Logits over the vocabulary and, when training, their softmax and gradient. */
  readonly logits: number;
  /** The sum. */
  readonly total: number;
}

/** Number of parameters of a decoder config: embedding, attention (with biases), MLP, norms, untied head. */
export function countParameters(config: ModelConfig): number {
  const h = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const attention = h * q + 2 * h * kv + q * h + (config.attentionBias ? q + 2 * kv : 0);
  const mlp = 3 * h * config.intermediateSize + (config.mlpBias ? 2 * config.intermediateSize + h : 0);
  const gemma = config.modelType === 'gemma3_text';
  const norms = (gemma ? 4 : 2) * h + (gemma || config.modelType === 'qwen3' ? 2 * config.headDim : 0);
  const embedding = config.vocabSize * h;
  return config.numHiddenLayers * (attention + mlp + norms) + embedding * (config.tieWordEmbeddings ? 1 : 2) + h;
}

/**
 * Estimates the peak memory of a model on a tfjs backend, before anything is loaded, from its
 * config. The model is an upper-bound count of float32 tensors as @lora's decoders create them:
 * tfjs keeps every op output of the forward pass alive on the gradient tape until the backward
 * pass (about 20 hidden-size, 6 intermediate-size and 4 attention-score values per token and layer
 * with LoRA dropout on all linear modules), and cross-entropy holds the logits, their softmax,
 * the one-hot targets and the gradient (four `[batch, tokens, vocab]` tensors). It is meant to be
 * conservative: the test beside it checks it against the real wasm heap after a training step.
 *
 * @example
 * ```ts
 * const e = estimateMemory(config, { kind: 'training', batchSize: 8, sequenceLength: 256 });
 * console.log((e.total / 2 ** 30).toFixed(2), 'GiB');
 * ```
 */
export function estimateMemory(config: ModelConfig, workload: MemoryWorkload): MemoryEstimate {
  const f32 = 4;
  const tied = config.tieWordEmbeddings ? config.vocabSize * config.hiddenSize : 0;
  const weights = (countParameters(config) + tied) * f32;
  const tokens = workload.batchSize * workload.sequenceLength;
  const scores = 4 * config.numAttentionHeads * workload.sequenceLength;
  const perTokenLayer = 20 * config.hiddenSize + 6 * config.intermediateSize + scores;
  const layers = workload.kind === 'training' ? config.numHiddenLayers : 1;
  const activations = tokens * layers * perTokenLayer * f32;
  const logitCopies = workload.kind === 'training' ? 4 : 1;
  const logits = tokens * config.vocabSize * logitCopies * f32;
  return { weights, activations, logits, total: weights + activations + logits };
}

const name = 'InsufficientMemoryError';
const symbol = Symbol.for(`lora.error.${name}`);

/** The model and workload would not fit the active backend's memory (the wasm 4 GiB heap). */
export class InsufficientMemoryError extends LoraError {
  readonly [symbol] = true;
  /** Estimated bytes. */
  readonly estimatedBytes: number;
  /** The backend's limit in bytes. */
  readonly limitBytes: number;

  constructor(options: { estimatedBytes: number; limitBytes: number; message: string } & LoraErrorOptions) {
    super(options.message, options);
    this.name = name;
    this.estimatedBytes = options.estimatedBytes;
    this.limitBytes = options.limitBytes;
  }

  /** True when `error` is an {@link InsufficientMemoryError}. */
  static override isInstance(error: unknown): error is InsufficientMemoryError {
    return LoraError.hasMarker(error, `lora.error.${name}`);
  }
}

function gib(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * What the wasm heap really holds per byte of {@link estimateMemory}'s tensor count, measured on
 * SmolLM2-135M-Instruct (LoRA r16 on all linear modules, one AdamW step): the heap was 3186 MiB
 * after a 1 × 64-token step and 3983 MiB after 2 × 64 (a 4 × 64 step aborted). Besides the weights
 * the heap keeps their transposed copies for the gradient and the allocator's free blocks, which
 * it never returns: about 3.9× the weights plus 3.7× the per-token tensors.
 */
const WASM_OVERHEAD = { weights: 3.9, work: 3.7 } as const;

/**
 * The bytes the wasm heap needs for `estimate`. Training uses the measured factors above; for
 * inference the 1.5× on the weights is an assumption, not a measurement (one weight copy plus
 * allocator slack; SmolLM2 generation is known to run on wasm).
 */
export function wasmHeapBytes(estimate: MemoryEstimate, kind: MemoryWorkload['kind']): number {
  const weights = kind === 'training' ? WASM_OVERHEAD.weights : 1.5;
  return estimate.weights * weights + (estimate.activations + estimate.logits) * WASM_OVERHEAD.work;
}

/**
 * Throws {@link InsufficientMemoryError} when `backend` is `wasm` and the model and workload would
 * not fit its 4 GiB heap ({@link wasmHeapBytes} of {@link estimateMemory}), saying the estimate and
 * what to install instead — so a too-large model fails before loading rather than aborting mid-step.
 * Other backends use the machine's memory and are not checked.
 *
 * @param model - name or path for the message.
 * @returns the tensor estimate.
 */
export function assertFitsBackend(backend: string, config: ModelConfig, workload: MemoryWorkload, model: string): MemoryEstimate {
  const estimate = estimateMemory(config, workload);
  const heap = wasmHeapBytes(estimate, workload.kind);
  if (backend === 'wasm' && heap > WASM_HEAP_LIMIT_BYTES) {
    throw new InsufficientMemoryError({
      estimatedBytes: heap,
      limitBytes: WASM_HEAP_LIMIT_BYTES,
      message:
        `${model} needs about ${gib(heap)} of wasm heap for ${workload.kind} at batch ${workload.batchSize} × ${workload.sequenceLength} tokens ` +
        `(tensors: weights ${gib(estimate.weights)}, activations ${gib(estimate.activations)}, logits ${gib(estimate.logits)}), ` +
        `more than the wasm backend's ${gib(WASM_HEAP_LIMIT_BYTES)}. Use the tensorflow backend: in this repository ` +
        '`pnpm setup:tensorflow` (tools/tfjs-node/setup.sh), elsewhere `npm i @tensorflow/tfjs-node`; or lower the batch size / maximum length.',
    });
  }
  return estimate;
}
