import { InvalidArgumentError } from '@lora/core';

/** Learning-rate schedule names, as transformers' `SchedulerType`. */
export type ScheduleName = 'constant' | 'constant_with_warmup' | 'linear' | 'cosine';

/** Options of {@link makeSchedule}. */
export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Total optimizer steps of the run (`num_training_steps`). */
  totalSteps: number;
  /** Warmup steps; a value in (0, 1) is a ratio of `totalSteps`, rounded up as transformers does. Default 0. */
  warmup?: number;
  /** Cosine cycles; default 0.5 (half a cosine, down to 0). */
  numCycles?: number;
}

/** A schedule: the learning rate of optimizer step `step` (0-based: the first update uses `lr(0)`). */
export type Schedule = (step: number) => number;

/** Warmup steps from a count or a ratio in (0, 1) (transformers' `get_warmup_steps`). */
export function warmupSteps(totalSteps: number, warmup = 0): number {
  if (!(warmup >= 0))
    throw new InvalidArgumentError({ argument: 'warmup', message: `must be ≥ 0 (steps, or a ratio below 1), got ${warmup}.` });
  return warmup >= 1 ? Math.floor(warmup) : Math.ceil(totalSteps * warmup);
}

/**
 * Builds a pure `(step) => lr` schedule equal to transformers' `get_scheduler(name, …)` lambdas
 * times the peak `lr`: linear warmup from 0, then constant, linear decay to 0, or cosine decay.
 * `constant` ignores warmup, as transformers does.
 *
 * @example
 * ```ts
 * const lr = makeSchedule('cosine', { lr: 2e-4, totalSteps: 1000, warmup: 0.03 });
 * lr(0); // 0, then rising for 30 steps
 * ```
 */
export function makeSchedule(name: ScheduleName, options: ScheduleOptions): Schedule {
  const { lr, totalSteps } = options;
  if (!(lr >= 0)) throw new InvalidArgumentError({ argument: 'lr', message: `must be ≥ 0, got ${lr}.` });
  if (!Number.isInteger(totalSteps) || totalSteps < 0) {
    throw new InvalidArgumentError({ argument: 'totalSteps', message: `must be a non-negative integer, got ${totalSteps}.` });
  }
  const warm = warmupSteps(totalSteps, options.warmup);
  const cycles = options.numCycles ?? 0.5;
  const ramp = (step: number): number => step / Math.max(1, warm);
  switch (name) {
    case 'constant':
      return () => lr;
    case 'constant_with_warmup':
      return (step) => lr * (step < warm ? ramp(step) : 1);
    case 'linear':
      return (step) => lr * (step < warm ? ramp(step) : Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warm)));
    case 'cosine':
      return (step) => {
        if (step < warm) return lr * ramp(step);
        const progress = (step - warm) / Math.max(1, totalSteps - warm);
        return lr * Math.max(0, 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress)));
      };
    default:
      throw new InvalidArgumentError({
        argument: 'schedule',
        message: `unknown schedule "${String(name)}"; use constant, constant_with_warmup, linear or cosine.`,
      });
  }
}
