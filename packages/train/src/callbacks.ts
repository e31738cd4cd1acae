/** Report of one optimizer step. */
export interface StepReport {
  /** Optimizer steps done (1-based). */
  readonly step: number;
  /** Of this run (`maxSteps`). */
  readonly maxSteps: number;
  /** Mean loss per trained token over the step's micro-batches. */
  readonly loss: number;
  /** Learning rate used by this step. */
  readonly lr: number;
  /** Global gradient L2 norm before clipping. */
  readonly gradNorm: number;
  /** Trained tokens (labels ≠ -100) in this step. */
  readonly trainedTokens: number;
  /** All tokens (incl. prompt and padding) fed in this step. */
  readonly tokens: number;
  /** Input tokens per second over this step. */
  readonly tokensPerSecond: number;
  /** Seconds since the run (or resume) started. */
  readonly elapsedSeconds: number;
  /** Fractional epoch. */
  readonly epoch: number;
  /** True when the step was skipped (non-finite loss or gradient with `onNonFinite: 'skip'`). */
  readonly skipped: boolean;
}

/** Report of one evaluation. */
export interface EvalReport {
  readonly step: number;
  /** `eval_loss` and whatever the metric callbacks returned. */
  readonly metrics: Readonly<Record<string, number>>;
}

/** Report of a checkpoint written. */
export interface CheckpointReport {
  readonly step: number;
  /** Folder of the checkpoint. */
  readonly path: string;
}

/** Final report of {@link train}. */
export interface TrainResult {
  /** Steps completed. */
  readonly step: number;
  /** Why the loop ended. */
  readonly stopReason: 'max_steps' | 'early_stopping' | 'signal' | 'non_finite' | 'callback';
  /** Loss of every step (a resumed run includes the history from its checkpoint). */
  readonly losses: readonly number[];
  /** Learning rate of every step. */
  readonly lrs: readonly number[];
  /** Every evaluation. */
  readonly evals: readonly { readonly step: number; readonly metrics: Readonly<Record<string, number>> }[];
  /** Last evaluation metrics, if any. */
  readonly lastEval: Readonly<Record<string, number>> | undefined;
  /** Best metric value and its checkpoint, if evaluations ran. */
  readonly best: { readonly metric: number; readonly step: number; readonly checkpoint?: string | undefined } | undefined;
  /** Last checkpoint written, if any. */
  readonly lastCheckpoint: string | undefined;
  /** The signal that stopped the run (`stopReason: 'signal'`). */
  readonly signal?: 'SIGINT' | 'SIGTERM';
}

/**
 * Optional hooks of a training run; each may be async and receives plain report objects. Return
 * `false` from `onStepEnd` to stop the run after this step (a checkpoint is written when an output
 * folder is set).
 */
export interface TrainCallbacks {
  onTrainBegin?(info: {
    readonly startStep: number;
    readonly maxSteps: number;
    readonly resumedFrom: string | undefined;
  }): void | Promise<void>;
  onStepEnd?(report: StepReport): void | boolean | Promise<void | boolean>;
  onEvaluate?(report: EvalReport): void | Promise<void>;
  onCheckpoint?(report: CheckpointReport): void | Promise<void>;
  onTrainEnd?(result: TrainResult): void | Promise<void>;
}

/** Calls the same hook on several callback objects, in order. */
export function composeCallbacks(...all: readonly (TrainCallbacks | undefined)[]): Required<TrainCallbacks> {
  const list = all.filter((c): c is TrainCallbacks => c !== undefined);
  return {
    onTrainBegin: async (info) => {
      for (const c of list) await c.onTrainBegin?.(info);
    },
    onStepEnd: async (report) => {
      let keepGoing = true;
      for (const c of list) if ((await c.onStepEnd?.(report)) === false) keepGoing = false;
      return keepGoing;
    },
    onEvaluate: async (report) => {
      for (const c of list) await c.onEvaluate?.(report);
    },
    onCheckpoint: async (report) => {
      for (const c of list) await c.onCheckpoint?.(report);
    },
    onTrainEnd: async (result) => {
      for (const c of list) await c.onTrainEnd?.(result);
    },
  };
}
