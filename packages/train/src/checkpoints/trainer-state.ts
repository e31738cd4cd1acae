import { z } from 'zod';

/** Version of the checkpoint layout written by this package. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** File names inside a checkpoint folder. */
export const CHECKPOINT_FILES = {
  /** Trainable tensors by parameter name (float32), when no adapter writer is given. */
  weights: 'trainable.safetensors',
  /** Optimizer buffers by `<parameter name>.<slot>`. */
  optimizer: 'optimizer.safetensors',
  /** {@link TrainerState} as JSON. */
  state: 'trainer_state.json',
} as const;

/** Where the data order stands: the epoch, its batch order and the next position in it. */
export interface Cursor {
  /** 0-based epoch. */
  epoch: number;
  /** Next position in `order`. */
  position: number;
  /** The epoch's order of the batch source's indices (shuffled when `shuffle` is on). */
  order: number[];
}

/** Schema of {@link Cursor}. */
export const CursorSchema = z.object({
  epoch: z.number().int().nonnegative(),
  position: z.number().int().nonnegative(),
  order: z.array(z.number().int().nonnegative()),
}) satisfies z.ZodType<Cursor>;

/** Schema of `trainer_state.json`. Unknown keys are kept out (stripped), so newer writers stay readable. */
export const TrainerStateSchema = z.object({
  formatVersion: z.number().int().positive(),
  /** Optimizer steps done. */
  step: z.number().int().nonnegative(),
  optimizer: z.object({ kind: z.string(), step: z.number().int().nonnegative() }),
  /** State of the trainer's `Rng` (xoshiro128** words). */
  rng: z.tuple([z.number(), z.number(), z.number(), z.number()]),
  cursor: CursorSchema,
  /** Training arguments of the run (as parsed). */
  args: z.record(z.string(), z.unknown()),
  /** Best metric so far and where it was reached. */
  best: z.object({ metric: z.number(), step: z.number().int(), checkpoint: z.string().optional() }).optional(),
  /** Evaluations without improvement (early stopping). */
  badEvaluations: z.number().int().nonnegative().default(0),
  /** Loss of every step so far. */
  losses: z.array(z.number()),
  /** Learning rate of every step so far. */
  lrs: z.array(z.number()),
  /** Evaluation history. */
  evals: z.array(z.object({ step: z.number().int(), metrics: z.record(z.string(), z.number()) })).default([]),
});

/** Contents of `trainer_state.json`. */
export type TrainerState = z.output<typeof TrainerStateSchema>;
