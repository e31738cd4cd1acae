import { validate } from '@lora/core/internal';
import { z } from 'zod';

/**
 * Training hyper-parameters. Every field has a default (shown), so `{}` is valid; names follow
 * transformers' `TrainingArguments` in camelCase.
 */
export const TrainingArgsSchema = z
  .object({
    /** Optimizer steps to run (each one consumes `gradientAccumulationSteps` micro-batches). Default 100. */
    maxSteps: z.number().int().positive().default(100),
    /** Micro-batches per optimizer step; the loss is normalised over all their trained tokens. Default 1. */
    gradientAccumulationSteps: z.number().int().positive().default(1),
    /** Peak learning rate, in (0, 10]. Default 2e-4 (a common LoRA value). */
    learningRate: z
      .number()
      .gt(0, { error: 'must be greater than 0 (a learning rate of 0 trains nothing)' })
      .lte(10, { error: (issue) => `${String(issue.input)} is not a plausible learning rate (at most 10; LoRA uses ~1e-4 to 1e-2)` })
      .default(2e-4),
    /** Schedule: `constant`, `constant_with_warmup`, `linear` (default) or `cosine`. */
    lrScheduler: z.enum(['constant', 'constant_with_warmup', 'linear', 'cosine']).default('linear'),
    /** Warmup: a ratio of `maxSteps` in [0, 1), or a whole number of steps. Default 0. */
    warmup: z
      .number()
      .nonnegative()
      .refine((w) => w < 1 || Number.isInteger(w), {
        error: (issue) => `${String(issue.input)} is neither a ratio of maxSteps in [0, 1) nor a whole number of steps`,
      })
      .default(0),
    /** `adamw` (default), `adamw8bit` (bitsandbytes-style 8-bit states), `adam` or `sgd`. */
    optimizer: z.enum(['adamw', 'adamw8bit', 'adam', 'sgd']).default('adamw'),
    /** Weight decay (decoupled for AdamW), applied to ≥ 2-D trainable tensors only. Default 0. */
    weightDecay: z.number().nonnegative().default(0),
    /** Adam β1. Default 0.9. */
    adamBeta1: z.number().min(0).lt(1).default(0.9),
    /** Adam β2. Default 0.999. */
    adamBeta2: z.number().min(0).lt(1).default(0.999),
    /** Adam ε. Default 1e-8. */
    adamEpsilon: z.number().nonnegative().default(1e-8),
    /** SGD momentum. Default 0. */
    momentum: z.number().nonnegative().default(0),
    /** Clip the global gradient L2 norm to this; 0 disables. Default 1. */
    maxGradNorm: z.number().nonnegative().default(1),
    /** Evaluate every N optimizer steps (0: only at the end when eval data is given). Default 0. */
    evalSteps: z.number().int().nonnegative().default(0),
    /** Save a checkpoint every N steps (0: only at the end). Default 0. */
    saveSteps: z.number().int().nonnegative().default(0),
    /** Keep at most this many step checkpoints (plus the best); 0 keeps all. Default 2. */
    saveTotalLimit: z.number().int().nonnegative().default(2),
    /** Log every N steps. Default 1. */
    loggingSteps: z.number().int().positive().default(1),
    /** Seed of the data order. Default 42. */
    seed: z.number().int().default(42),
    /** Shuffle the micro-batches at each epoch. Default true. */
    shuffle: z.boolean().default(true),
    /** Recompute each decoder layer in the backward pass to save activation memory. Default false. */
    gradientCheckpointing: z.boolean().default(false),
    /**
     * Tokens per chunk of the loss's vocabulary projection: `lm_head`, softmax and their gradient
     * run on this many rows at a time, so the `[batch·length, vocab]` logits never exist at once.
     * `'auto'` (default): 8 MiB of float32 logits per chunk; `0`: the full logits (no chunking).
     */
    lossChunkSize: z.union([z.number().int().nonnegative(), z.literal('auto')]).default('auto'),
    /** On a NaN/Inf loss or gradient: `stop` (default, with a message naming the checkpoint to resume from) or `skip` the step. */
    onNonFinite: z.enum(['stop', 'skip']).default('stop'),
    /** Metric that picks the best checkpoint and drives early stopping. Default `eval_loss`. */
    metricForBestModel: z.string().default('eval_loss'),
    /** Whether a larger metric is better. Default false (losses). */
    greaterIsBetter: z.boolean().default(false),
    /** Stop after this many evaluations without improvement of the metric; 0 disables. Default 0. */
    earlyStoppingPatience: z.number().int().nonnegative().default(0),
    /** Minimum improvement that counts for early stopping. Default 0. */
    earlyStoppingThreshold: z.number().nonnegative().default(0),
  })
  .strict();

/** Parsed, fully defaulted training arguments (see {@link TrainingArgsSchema} for each field). */
export type TrainingArgs = z.output<typeof TrainingArgsSchema>;

/** Training arguments as written by a user: every field optional. */
export type TrainingArgsInput = z.input<typeof TrainingArgsSchema>;

/**
 * Validates user training arguments and fills the defaults. Throws a `FileFormatError` naming
 * `source` and the offending field.
 */
export function parseTrainingArgs(value: unknown, source = 'training arguments'): TrainingArgs {
  return validate(value, TrainingArgsSchema, { file: source });
}
