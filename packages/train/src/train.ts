import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, LoraError, Rng } from '@lora/core';
import type { CausalLM, ForwardOptions } from '@lora/models';
import { variableGradsLean } from '@lora/models/internal';
import { rowsOf, type TrainBatch } from './batch.js';
import { type StepReport, type TrainCallbacks, type TrainResult, composeCallbacks } from './callbacks.js';
import {
  type WeightsIO,
  findLatestCheckpoint,
  noCheckpointError,
  pruneCheckpoints,
  readCheckpoint,
  safetensorsWeightsIO,
  writeCheckpoint,
  checkpointName,
  checkpointPath,
  listCheckpoints,
  LATEST_FILE,
} from './checkpoints/checkpoint-io.js';
import { acquireRunLock, claimRunFolder, removeTemporaries } from './checkpoints/run-folder.js';
import type { Cursor, TrainerState } from './checkpoints/trainer-state.js';
import { clipGradNormOnDevice, globalNorm } from './clip-grad-norm.js';
import { NonFiniteError } from './errors/non-finite-error.js';
import { enableGradientCheckpointing } from './gradient-checkpointing.js';
import { modelLossSum } from './chunked-loss.js';
import { countTrainedTokens } from './loss.js';
import { Adam, AdamW } from './optimizers/adamw.js';
import { AdamW8bit } from './optimizers/adamw-8bit.js';
import type { NamedGradients, Optimizer } from './optimizers/optimizer.js';
import { SGD } from './optimizers/sgd.js';
import { namedParameters } from './parameters.js';
import { type Schedule, makeSchedule } from './schedules.js';
import { type TrainingArgs, type TrainingArgsInput, parseTrainingArgs } from './training-args.js';

/** Micro-batches addressed by index (a collated dataset that need not sit in memory at once). */
export interface BatchSource {
  /** Number of micro-batches in one epoch. */
  readonly length: number;
  /** Micro-batch `index` (0 ≤ index < length). */
  get(index: number): TrainBatch | Promise<TrainBatch>;
}

/** Checkpoint folders and the `latest` pointer: what makes a folder a run. */
const isCheckpointFile = (name: string): boolean => name === LATEST_FILE || /^checkpoint-\d+$/.test(name);

/** Exit codes of a process killed by a signal, as shells report them. */
const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

/** A signal repeated within this many ms of the first is the same interrupt, delivered twice. */
const SIGNAL_ECHO_MS = 1000;

function buildOptimizer(args: TrainingArgs, variables: tf.Variable[]): Optimizer {
  const adam = { betas: [args.adamBeta1, args.adamBeta2] as const, eps: args.adamEpsilon, weightDecay: args.weightDecay };
  switch (args.optimizer) {
    case 'adamw':
      return new AdamW(variables, adam);
    case 'adamw8bit':
      return new AdamW8bit(variables, adam);
    case 'adam':
      return new Adam(variables, adam);
    case 'sgd':
      return new SGD(variables, { momentum: args.momentum, weightDecay: args.weightDecay });
  }
}

function forwardOptions(batch: TrainBatch): ForwardOptions {
  const [b, t] = batch.shape;
  const options: ForwardOptions = {};
  if (batch.attentionMask !== undefined && batch.attentionMask.some((x) => x === 0))
    options.attentionMask = rowsOf(batch.attentionMask, b, t);
  if (batch.positionIds !== undefined) options.positionIds = rowsOf(batch.positionIds, b, t);
  if (batch.segmentIds !== undefined) options.segmentIds = rowsOf(batch.segmentIds, b, t);
  return options;
}

/**
 * Refuses a batch whose input ids fall outside the model's vocabulary before it reaches the
 * embedding lookup, where an out-of-range id would read past the table (zeros or garbage,
 * depending on the backend) instead of failing.
 */
function checkInputIds(batch: TrainBatch, vocabSize: number, where: string): void {
  const ids = batch.inputIds;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i] as number;
    if (id < 0 || id >= vocabSize) {
      const t = batch.shape[1];
      throw new InvalidArgumentError({
        argument: 'data',
        message: `${where}: input id ${id} at row ${Math.floor(i / t)}, position ${i % t} is outside the model's vocabulary [0, ${vocabSize}) — was the batch made with another model's tokenizer?`,
      });
    }
  }
}

function sourceOf(data: readonly TrainBatch[] | BatchSource): BatchSource {
  return 'get' in data && typeof data.get === 'function'
    ? (data as BatchSource)
    : { length: (data as readonly TrainBatch[]).length, get: (i) => (data as readonly TrainBatch[])[i] as TrainBatch };
}

/**
 * Mean loss per trained token (`loss`) and the trained-token count of a dataset, without
 * gradients. The per-batch loss sums stay on the device and are read back once, at the end.
 * `lossChunkSize` as in the training arguments
 * (default `'auto'`: the vocabulary projection in chunks).
 */
export async function evaluateLoss(
  model: CausalLM,
  data: readonly TrainBatch[] | BatchSource,
  options: { lossChunkSize?: number | 'auto' } = {},
): Promise<{ loss: number; tokens: number }> {
  const source = sourceOf(data);
  const sums: tf.Scalar[] = [];
  let tokens = 0;
  try {
    for (let i = 0; i < source.length; i++) {
      const batch = await source.get(i);
      checkInputIds(batch, model.config.vocabSize, `evaluation micro-batch ${i}`);
      sums.push(
        tf.tidy(() => {
          const ids = tf.tensor2d(batch.inputIds, [...batch.shape], 'int32');
          const { sum: s, count } = modelLossSum(model, ids, batch.labels, forwardOptions(batch), { chunkSize: options.lossChunkSize });
          tokens += count;
          return s;
        }),
      );
    }
    let sum = 0;
    if (sums.length > 0) {
      const stacked = tf.stack(sums);
      const values = await stacked.data();
      stacked.dispose();
      for (const v of values) sum += v;
    }
    return { loss: tokens === 0 ? Number.NaN : sum / tokens, tokens };
  } finally {
    tf.dispose(sums);
  }
}

/** Adds `b` into `a` (disposing the old sums). */
function accumulate(into: Record<string, tf.Tensor> | undefined, grads: NamedGradients): Record<string, tf.Tensor> {
  if (into === undefined) return { ...grads };
  for (const [name, g] of Object.entries(grads)) {
    const old = into[name];
    into[name] = old === undefined ? g : tf.add(old, g);
    if (old !== undefined) {
      old.dispose();
      g.dispose();
    }
  }
  return into;
}

/**
 * Supervised fine-tuning loop — a function, not a framework. Each optimizer step runs
 * `gradientAccumulationSteps` micro-batches, normalises the summed token loss by the step's total
 * of trained tokens (as transformers' `num_items_in_batch`), clips the global gradient norm,
 * applies the optimizer at the scheduled learning rate, and reports through `callbacks`. Tensors
 * are only read asynchronously (any backend, webgpu included), and a step reads the device once:
 * its micro-batch losses and gradient norm together (the clip coefficient stays on the device).
 * Evaluates every `evalSteps`, saves `checkpoint-<step>` every `saveSteps` and at the end
 * (weights, optimizer state, RNG, data cursor, step, args), keeps the last `saveTotalLimit` and the
 * best, and resumes from the latest checkpoint with the same loss trajectory bit for bit on the
 * same backend. SIGINT/SIGTERM save a checkpoint and stop; a NaN/Inf stops (or skips the step)
 * without writing a checkpoint.
 *
 * @example
 * ```ts
 * const result = await train({ model, data: batches, args: { maxSteps: 200, learningRate: 2e-4 }, outputDir: 'out', callbacks: [progressBar()] });
 * ```
 */
export async function train(options: {
  /** The model; its `trainableVariables()` (or `parameters`) are trained. */
  model: CausalLM;
  /** Training micro-batches (already collated: `labels` -100 where not trained). */
  data: readonly TrainBatch[] | BatchSource;
  /** Hyper-parameters (validated; defaults filled). */
  args?: TrainingArgsInput;
  /** Validation micro-batches: `eval_loss` every `evalSteps` and at the end. */
  evalData?: readonly TrainBatch[] | BatchSource;
  /** Extra metrics at each evaluation (e.g. from `@lora/eval`); merged with `eval_loss`. */
  evaluate?: (model: CausalLM, step: number) => Promise<Record<string, number>> | Record<string, number>;
  /** Hooks: progress, logs, user code. */
  callbacks?: TrainCallbacks | readonly TrainCallbacks[];
  /** Folder of checkpoints (`checkpoint-<step>`, `latest`); without it nothing is written. */
  outputDir?: string;
  /** Resume from `outputDir`'s latest checkpoint (`true`: one must exist; `'auto'`: if any), or from this checkpoint folder. */
  resume?: boolean | 'auto' | string;
  /** Parameters to train by stable name; default {@link namedParameters} of the model. */
  parameters?: ReadonlyMap<string, tf.Variable>;
  /** Writes/reads the weights of checkpoints; default `trainable.safetensors` of `parameters` (pass @lora/peft's adapter IO for adapters). */
  weightsIO?: WeightsIO;
  /** Optimizer to use instead of the one `args.optimizer` names (its state must fit `parameters`). */
  optimizer?: Optimizer;
  /**
   * Without `resume`, `outputDir` must hold no checkpoint (else a `RunFolderError`); `true`
   * deletes its checkpoints first (transformers' `overwrite_output_dir`). Default false.
   */
  overwrite?: boolean;
  /**
   * On the first SIGINT/SIGTERM finish the step, save a checkpoint and stop (`stopReason:
   * 'signal'`); on a second one (more than a second later) exit the process at once (130 / 143).
   * Default true when `outputDir` is set.
   */
  handleSignals?: boolean;
}): Promise<TrainResult> {
  if (options.outputDir === undefined) return trainUnlocked(options);
  const release = await acquireRunLock(options.outputDir);
  try {
    await removeTemporaries(options.outputDir);
    if (options.resume === undefined || options.resume === false) {
      await claimRunFolder(options.outputDir, { isRunFile: isCheckpointFile, overwrite: options.overwrite === true });
    }
    return await trainUnlocked(options);
  } finally {
    await release();
  }
}

/** What stays fixed during a run: the model, its data and arguments, the optimizer, the IO. */
interface Run {
  readonly model: CausalLM;
  readonly args: TrainingArgs;
  readonly source: BatchSource;
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly variables: tf.Variable[];
  readonly optimizer: Optimizer;
  readonly weights: WeightsIO;
  readonly schedule: Schedule;
  readonly callbacks: Required<TrainCallbacks>;
  readonly outputDir: string | undefined;
  readonly evalData: readonly TrainBatch[] | BatchSource | undefined;
  readonly evaluate: TrainOptions['evaluate'];
}

/** What a run carries from step to step: restored on resume, written in every checkpoint. */
interface RunState {
  /** Optimizer steps done. */
  step: number;
  readonly rng: Rng;
  cursor: Cursor;
  losses: number[];
  lrs: number[];
  evals: TrainerState['evals'];
  best: TrainerState['best'];
  badEvaluations: number;
  /** The checkpoint last written (or resumed from): where to resume after a failure. */
  lastCheckpoint: string | undefined;
}

/** What one optimizer step measured. */
interface StepOutcome {
  /** Mean loss per trained token over the step's micro-batches. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Whether loss and norm were finite (else the update was not applied). */
  finite: boolean;
  trainedTokens: number;
  tokens: number;
}

async function trainUnlocked(options: TrainOptions): Promise<TrainResult> {
  const run = setUpRun(options);
  const { args, callbacks } = run;
  const state = startState(args, run.source);
  // Everything set up from here on is undone in `finally`, a failed resume included.
  const gcOff = args.gradientCheckpointing ? enableGradientCheckpointing(run.model) : undefined;
  let signals: SignalWatch | undefined;
  let stopReason: TrainResult['stopReason'] = 'max_steps';
  try {
    const resumedFrom = await resumeState(run, state, options.resume);
    signals = (options.handleSignals ?? run.outputDir !== undefined) ? new SignalWatch(state) : undefined;
    const started = performance.now();
    await callbacks.onTrainBegin({ startStep: state.step, maxSteps: args.maxSteps, resumedFrom });
    // Resumed at (or past) `maxSteps`: nothing runs; evaluate and make sure the end is saved.
    if (state.step >= args.maxSteps) await finishWithoutSteps(run, state);
    while (state.step < args.maxSteps) {
      const stepStart = performance.now();
      const lr = run.schedule(state.step);
      const micro = await nextMicroBatches(run, state);
      const outcome = await optimizerStep(run, micro, state.step + 1, lr);
      if (!outcome.finite && args.onNonFinite === 'stop') throw nonFiniteError(outcome, state);
      state.step++;
      state.losses.push(outcome.loss);
      state.lrs.push(lr);
      const report = stepReport(args, state, lr, outcome, stepStart, started);
      const keepGoing = await callbacks.onStepEnd(report);
      await yieldToEventLoop();

      // The last step evaluates (every run ends with an evaluation) before its checkpoint is
      // written, so that checkpoint's state records a best reached at the last step.
      const last = state.step >= args.maxSteps;
      const evaluation = every(args.evalSteps, state.step) || last ? await evaluateAndJudge(run, state) : undefined;
      let stop: TrainResult['stopReason'] | undefined;
      if (!last && signals?.received !== undefined) stop = 'signal';
      else if (!last && keepGoing === false) stop = 'callback';
      else if (!last && evaluation !== undefined && patienceRanOut(args, state)) stop = 'early_stopping';
      if (every(args.saveSteps, state.step) || last || evaluation?.improved === true || stop !== undefined)
        await saveCheckpoint(run, state);
      if (stop !== undefined) {
        stopReason = stop;
        break;
      }
    }
  } finally {
    signals?.dispose();
    gcOff?.();
    if (options.optimizer === undefined) run.optimizer.dispose();
  }
  const result: TrainResult = {
    step: state.step,
    stopReason,
    losses: state.losses,
    lrs: state.lrs,
    evals: state.evals,
    lastEval: state.evals[state.evals.length - 1]?.metrics,
    best: state.best,
    lastCheckpoint: state.lastCheckpoint,
    ...(signals?.received === undefined ? {} : { signal: signals.received }),
  };
  await callbacks.onTrainEnd(result);
  return result;
}

/** Validates the options and builds what the run needs: the optimizer, the weights IO, the schedule, the callbacks. */
function setUpRun(options: TrainOptions): Run {
  const args = parseTrainingArgs(options.args ?? {});
  const { model } = options;
  const source = sourceOf(options.data);
  if (source.length === 0) throw new InvalidArgumentError({ argument: 'data', message: 'holds no micro-batch.' });
  const params = options.parameters ?? namedParameters(model);
  const variables = [...params.values()];
  if (variables.length === 0) {
    throw new InvalidArgumentError({
      argument: 'model',
      message: 'has no trainable variables: inject an adapter (@lora/peft) or call makeLinearsTrainable(model).',
    });
  }
  return {
    model,
    args,
    source,
    params,
    variables,
    optimizer: options.optimizer ?? buildOptimizer(args, variables),
    weights: options.weightsIO ?? safetensorsWeightsIO(params),
    schedule: makeSchedule(args.lrScheduler, { lr: args.learningRate, totalSteps: args.maxSteps, warmup: args.warmup }),
    callbacks: composeCallbacks(
      ...(Array.isArray(options.callbacks) ? options.callbacks : [options.callbacks as TrainCallbacks | undefined]),
    ),
    outputDir: options.outputDir,
    evalData: options.evalData,
    evaluate: options.evaluate,
  };
}

/** The state of a fresh run: step 0, the RNG seeded, the first epoch's order drawn. */
function startState(args: TrainingArgs, source: BatchSource): RunState {
  const rng = new Rng(args.seed);
  return {
    step: 0,
    rng,
    cursor: { epoch: 0, position: 0, order: epochOrder(source.length, args.shuffle, rng) },
    losses: [],
    lrs: [],
    evals: [],
    best: undefined,
    badEvaluations: 0,
    lastCheckpoint: undefined,
  };
}

/** The batch order of one epoch: the indices, shuffled by `rng` when `shuffle` is on. */
function epochOrder(length: number, shuffle: boolean, rng: Rng): number[] {
  const order = Array.from({ length }, (_, i) => i);
  return shuffle ? rng.shuffle(order) : order;
}

/**
 * Loads the checkpoint `resume` asks for (weights and optimizer into the run, the rest into
 * `state`); returns its folder, or undefined when the run starts fresh.
 */
async function resumeState(run: Run, state: RunState, resume: TrainOptions['resume']): Promise<string | undefined> {
  if (resume === undefined || resume === false) return undefined;
  const { outputDir } = run;
  let dir: string | undefined;
  if (typeof resume === 'string' && resume !== 'auto') dir = resume;
  else {
    if (outputDir === undefined)
      throw new InvalidArgumentError({ argument: 'resume', message: 'needs `outputDir` (or a checkpoint folder).' });
    dir = await findLatestCheckpoint(outputDir);
    if (dir === undefined && resume === true) throw noCheckpointError(outputDir);
  }
  if (dir === undefined) return undefined;
  const saved = await readCheckpoint(dir, run.weights, run.params, run.optimizer);
  state.rng.setState(saved.rng);
  state.cursor = saved.cursor;
  state.step = saved.step;
  state.losses = saved.losses;
  state.lrs = saved.lrs;
  state.evals = saved.evals;
  state.best = saved.best;
  // Checkpoints of format 1 written before `best.checkpoint` was recorded at save time.
  if (
    state.best !== undefined &&
    state.best.checkpoint === undefined &&
    outputDir !== undefined &&
    (await listCheckpoints(outputDir)).includes(state.best.step)
  ) {
    state.best = { ...state.best, checkpoint: await checkpointPath(outputDir, state.best.step) };
  }
  state.badEvaluations = saved.badEvaluations;
  state.lastCheckpoint = dir;
  return dir;
}

/** The next `gradientAccumulationSteps` micro-batches, starting a new (reshuffled) epoch when one runs out. */
async function nextMicroBatches(run: Run, state: RunState): Promise<TrainBatch[]> {
  const micro: TrainBatch[] = [];
  for (let i = 0; i < run.args.gradientAccumulationSteps; i++) {
    if (state.cursor.position >= state.cursor.order.length)
      state.cursor = { epoch: state.cursor.epoch + 1, position: 0, order: epochOrder(run.source.length, run.args.shuffle, state.rng) };
    const index = state.cursor.order[state.cursor.position] as number;
    state.cursor = { ...state.cursor, position: state.cursor.position + 1 };
    micro.push(await run.source.get(index));
  }
  return micro;
}

/**
 * One optimizer step (number `step`) over `micro`: accumulates the gradients of the summed token
 * loss normalised by the step's trained tokens, clips their global norm, and applies them at `lr`
 * when loss and norm are finite. The micro-batch losses and the gradient norm come back in one read.
 */
async function optimizerStep(run: Run, micro: readonly TrainBatch[], step: number, lr: number): Promise<StepOutcome> {
  const { model, args } = run;
  const trainedTokens = micro.reduce((n, b) => n + countTrainedTokens(b.labels, b.shape), 0);
  const tokens = micro.reduce((n, b) => n + b.shape[0] * b.shape[1], 0);
  const denominator = Math.max(trainedTokens, 1);
  let grads: Record<string, tf.Tensor> | undefined;
  const microLosses: tf.Scalar[] = [];
  for (const batch of micro) {
    checkInputIds(batch, model.config.vocabSize, `micro-batch of step ${step}`);
    const { value, grads: g } = variableGradsLean(() => {
      const ids = tf.tensor2d(batch.inputIds, [...batch.shape], 'int32');
      const { sum } = modelLossSum(model, ids, batch.labels, forwardOptions(batch), { chunkSize: args.lossChunkSize });
      return tf.div(sum, denominator) as tf.Scalar;
    }, run.variables);
    microLosses.push(value);
    grads = accumulate(grads, g);
  }
  const summed = grads ?? {};
  // The clip coefficient is computed on the device; the micro-batch losses and the gradient
  // norm come back in ONE read per step (the loss is logged, and a non-finite step must not
  // be applied), so the backend is never waited on per micro-batch or for the clip.
  const clip = clipGradNormOnDevice(summed, args.maxGradNorm);
  const readback = tf.tidy(() => tf.stack([...microLosses, clip.norm]));
  const values = await readback.data();
  tf.dispose([readback, clip.norm, ...microLosses]);
  let loss = 0;
  for (let i = 0; i < microLosses.length; i++) loss += values[i] as number;
  const gradNorm = values[microLosses.length] as number;
  const finite = Number.isFinite(loss) && Number.isFinite(gradNorm);
  if (finite) await run.optimizer.applyGradients(clip.grads, lr);
  tf.dispose([...new Set([...Object.values(summed), ...Object.values(clip.grads)])]);
  return { loss, gradNorm, finite, trainedTokens, tokens };
}

/** The error that stops a run on a NaN/Inf (`onNonFinite: 'stop'`), naming the checkpoint to resume from. */
function nonFiniteError(outcome: StepOutcome, state: RunState): NonFiniteError {
  return new NonFiniteError({
    step: state.step + 1,
    what: Number.isFinite(outcome.loss) ? 'the gradient norm' : 'the loss',
    resumeFrom: state.lastCheckpoint,
  });
}

/** The report of the step just done (`state.step`), for the callbacks. */
function stepReport(args: TrainingArgs, state: RunState, lr: number, outcome: StepOutcome, stepStart: number, started: number): StepReport {
  const seconds = (performance.now() - stepStart) / 1000;
  const { cursor } = state;
  return {
    step: state.step,
    maxSteps: args.maxSteps,
    loss: outcome.loss,
    lr,
    gradNorm: outcome.gradNorm,
    trainedTokens: outcome.trainedTokens,
    tokens: outcome.tokens,
    tokensPerSecond: outcome.tokens / Math.max(seconds, 1e-9),
    elapsedSeconds: (performance.now() - started) / 1000,
    epoch: cursor.epoch + cursor.position / cursor.order.length,
    skipped: !outcome.finite,
  };
}

/**
 * On backends whose reads resolve as microtasks (wasm, cpu) the loop would never reach the event
 * loop's poll phase, where signals (and timers, I/O) are delivered: the loop yields once a step.
 */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));
}

/** Whether step `step` falls on an interval of `n` steps (0: never). */
function every(n: number, step: number): boolean {
  return n > 0 && step % n === 0;
}

/**
 * Evaluates at `state.step` (`eval_loss` on the eval data, then the `evaluate` metrics), records
 * the report and updates the best metric; undefined when the run has nothing to evaluate.
 */
async function evaluateAndJudge(run: Run, state: RunState): Promise<{ improved: boolean } | undefined> {
  if (run.evalData === undefined && run.evaluate === undefined) return undefined;
  const metrics: Record<string, number> = {};
  if (run.evalData !== undefined)
    metrics.eval_loss = (await evaluateLoss(run.model, run.evalData, { lossChunkSize: run.args.lossChunkSize })).loss;
  if (run.evaluate !== undefined) Object.assign(metrics, await run.evaluate(run.model, state.step));
  const report = { step: state.step, metrics };
  state.evals = [...state.evals, report];
  await run.callbacks.onEvaluate(report);
  return { improved: judge(run.args, state, metrics) };
}

/** Updates the best metric (and the count of evaluations without improvement); returns whether it improved. */
function judge(args: TrainingArgs, state: RunState, metrics: Readonly<Record<string, number>>): boolean {
  const value = metrics[args.metricForBestModel];
  if (value === undefined || !Number.isFinite(value)) return false;
  const { best } = state;
  const better =
    best === undefined ||
    (args.greaterIsBetter ? value > best.metric + args.earlyStoppingThreshold : value < best.metric - args.earlyStoppingThreshold);
  if (better) {
    state.best = { metric: value, step: state.step };
    state.badEvaluations = 0;
  } else state.badEvaluations++;
  return better;
}

/** Whether early stopping is on and that many evaluations in a row did not improve. */
function patienceRanOut(args: TrainingArgs, state: RunState): boolean {
  return args.earlyStoppingPatience > 0 && state.badEvaluations >= args.earlyStoppingPatience;
}

/** A run resumed at (or past) `maxSteps`: evaluates, and saves the end unless its checkpoint is the one resumed from. */
async function finishWithoutSteps(run: Run, state: RunState): Promise<void> {
  await evaluateAndJudge(run, state);
  if (run.outputDir !== undefined && state.lastCheckpoint?.endsWith(checkpointName(state.step)) !== true) await saveCheckpoint(run, state);
}

/**
 * Writes `checkpoint-<step>` (weights, optimizer state, RNG, data cursor, history) into the output
 * folder, prunes the old ones (keeping the best) and reports it; without an output folder, nothing.
 * Refuses weights holding NaN/Inf.
 */
async function saveCheckpoint(run: Run, state: RunState): Promise<void> {
  const { outputDir, params, args } = run;
  if (outputDir === undefined) return;
  const { step } = state;
  if (!Number.isFinite(await globalNorm(Object.fromEntries(params)))) {
    throw new LoraError(
      `step ${step}: the weights hold NaN or Inf; refusing to write a poisoned checkpoint. Resume from ${state.lastCheckpoint ?? 'the start'}.`,
    );
  }
  // Recorded in the state being written, so a resumed run still protects the best checkpoint.
  if (state.best !== undefined && state.best.step === step)
    state.best = { ...state.best, checkpoint: await checkpointPath(outputDir, step) };
  const path = await writeCheckpoint(outputDir, {
    weights: run.weights,
    params,
    optimizer: run.optimizer,
    state: {
      step,
      rng: [...state.rng.getState()] as [number, number, number, number],
      cursor: state.cursor,
      args: { ...args },
      best: state.best,
      badEvaluations: state.badEvaluations,
      losses: state.losses,
      lrs: state.lrs,
      evals: state.evals,
    },
  });
  state.lastCheckpoint = path;
  await pruneCheckpoints(outputDir, args.saveTotalLimit, [state.best?.checkpoint, path]);
  await run.callbacks.onCheckpoint({ step, path });
}

/**
 * SIGINT/SIGTERM while a run goes on: the first one is `received` (the loop stops after the step,
 * with a checkpoint); a second one, more than a second later, exits the process at once.
 */
class SignalWatch {
  /** The first signal received, if any. */
  received: 'SIGINT' | 'SIGTERM' | undefined;
  private receivedAt = 0;
  private readonly state: RunState;
  private readonly listener = (signal: NodeJS.Signals): void => this.onSignal(signal);

  constructor(state: RunState) {
    this.state = state;
    process.on('SIGINT', this.listener);
    process.on('SIGTERM', this.listener);
  }

  /** Stops listening. */
  dispose(): void {
    process.off('SIGINT', this.listener);
    process.off('SIGTERM', this.listener);
  }

  private onSignal(signal: NodeJS.Signals): void {
    const name = signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    if (this.received !== undefined) {
      // Ctrl-C under `pnpm lora` reaches this process twice: from the terminal (the whole process
      // group) and forwarded by pnpm. A repeat within a second is that echo, not a second press.
      if (Date.now() - this.receivedAt < SIGNAL_ECHO_MS) return;
      process.stderr.write(
        `\n[lora] second ${name}: exiting now without a checkpoint (the last one is ${this.state.lastCheckpoint ?? 'none'}).\n`,
      );
      process.exit(SIGNAL_EXIT_CODES[name]);
    }
    this.received = name;
    this.receivedAt = Date.now();
    process.stderr.write(`\n[lora] ${name}: stopping after the current step with a checkpoint (send it again to exit at once).\n`);
  }
}

/** Options of {@link train}. The public signature spells it out. */
export type TrainOptions = NonNullable<Parameters<typeof train>[0]>;
