import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, LoraError, Rng } from '@lora/core';
import type { CausalLM, ForwardOptions } from '@lora/models';
import { variableGradsLean } from '@lora/models/internal';
import { rowsOf, type TrainBatch } from './batch.js';
import { type EvalReport, type StepReport, type TrainCallbacks, type TrainResult, composeCallbacks } from './callbacks.js';
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
import { makeSchedule } from './schedules.js';
import { type TrainingArgs, type TrainingArgsInput, parseTrainingArgs } from './training-args.js';

/** Micro-batches addressed by index (a collated dataset that need not sit in memory at once). */
export interface BatchSource {
  /** Number of micro-batches in one epoch. */
  readonly length: number;
  /** Micro-batch `index` (0 ≤ index < length). */
  get(index: number): TrainBatch | Promise<TrainBatch>;
}

/** Options of {@link train}. */
export interface TrainOptions {
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
export async function train(options: TrainOptions): Promise<TrainResult> {
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

async function trainUnlocked(options: TrainOptions): Promise<TrainResult> {
  const args = parseTrainingArgs(options.args ?? {});
  const { model, outputDir } = options;
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
  const optimizer = options.optimizer ?? buildOptimizer(args, variables);
  const weights = options.weightsIO ?? safetensorsWeightsIO(params);
  const schedule = makeSchedule(args.lrScheduler, { lr: args.learningRate, totalSteps: args.maxSteps, warmup: args.warmup });
  const callbacks = composeCallbacks(
    ...(Array.isArray(options.callbacks) ? options.callbacks : [options.callbacks as TrainCallbacks | undefined]),
  );
  const gcOff = args.gradientCheckpointing ? enableGradientCheckpointing(model) : undefined;

  // ---- state (restored on resume)
  const rng = new Rng(args.seed);
  const newOrder = (): number[] => {
    const order = Array.from({ length: source.length }, (_, i) => i);
    return args.shuffle ? rng.shuffle(order) : order;
  };
  let cursor: Cursor = { epoch: 0, position: 0, order: newOrder() };
  let step = 0;
  let losses: number[] = [];
  let lrs: number[] = [];
  let evals: TrainerState['evals'] = [];
  let best: TrainerState['best'];
  let badEvaluations = 0;
  let resumedFrom: string | undefined;
  let lastCheckpoint: string | undefined;

  if (options.resume !== undefined && options.resume !== false) {
    let dir: string | undefined;
    if (typeof options.resume === 'string' && options.resume !== 'auto') dir = options.resume;
    else {
      if (outputDir === undefined)
        throw new InvalidArgumentError({ argument: 'resume', message: 'needs `outputDir` (or a checkpoint folder).' });
      dir = await findLatestCheckpoint(outputDir);
      if (dir === undefined && options.resume === true) throw noCheckpointError(outputDir);
    }
    if (dir !== undefined) {
      const state = await readCheckpoint(dir, weights, params, optimizer);
      rng.setState(state.rng);
      cursor = state.cursor;
      step = state.step;
      losses = state.losses;
      lrs = state.lrs;
      evals = state.evals;
      best = state.best;
      // Checkpoints of format 1 written before `best.checkpoint` was recorded at save time.
      if (
        best !== undefined &&
        best.checkpoint === undefined &&
        outputDir !== undefined &&
        (await listCheckpoints(outputDir)).includes(best.step)
      ) {
        best = { ...best, checkpoint: await checkpointPath(outputDir, best.step) };
      }
      badEvaluations = state.badEvaluations;
      resumedFrom = dir;
      lastCheckpoint = dir;
    }
  }

  const save = async (): Promise<string | undefined> => {
    if (outputDir === undefined) return undefined;
    if (!Number.isFinite(await globalNorm(Object.fromEntries(params)))) {
      throw new LoraError(
        `step ${step}: the weights hold NaN or Inf; refusing to write a poisoned checkpoint. Resume from ${lastCheckpoint ?? 'the start'}.`,
      );
    }
    // Recorded in the state being written, so a resumed run still protects the best checkpoint.
    if (best !== undefined && best.step === step) best = { ...best, checkpoint: await checkpointPath(outputDir, step) };
    const path = await writeCheckpoint(outputDir, {
      weights,
      params,
      optimizer,
      state: {
        step,
        rng: [...rng.getState()] as [number, number, number, number],
        cursor,
        args: args as unknown as Record<string, unknown>,
        best,
        badEvaluations,
        losses,
        lrs,
        evals,
      },
    });
    lastCheckpoint = path;
    await pruneCheckpoints(outputDir, args.saveTotalLimit, [best?.checkpoint, path]);
    await callbacks.onCheckpoint({ step, path });
    return path;
  };

  let signalled: 'SIGINT' | 'SIGTERM' | undefined;
  let signalledAt = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    const name = signal === 'SIGTERM' ? 'SIGTERM' : 'SIGINT';
    if (signalled !== undefined) {
      // Ctrl-C under `pnpm lora` reaches this process twice: from the terminal (the whole process
      // group) and forwarded by pnpm. A repeat within a second is that echo, not a second press.
      if (Date.now() - signalledAt < SIGNAL_ECHO_MS) return;
      process.stderr.write(`\n[lora] second ${name}: exiting now without a checkpoint (the last one is ${lastCheckpoint ?? 'none'}).\n`);
      process.exit(SIGNAL_EXIT_CODES[name]);
    }
    signalled = name;
    signalledAt = Date.now();
    process.stderr.write(`\n[lora] ${name}: stopping after the current step with a checkpoint (send it again to exit at once).\n`);
  };
  const handleSignals = options.handleSignals ?? outputDir !== undefined;
  if (handleSignals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }

  const nextBatch = async (): Promise<TrainBatch> => {
    if (cursor.position >= cursor.order.length) cursor = { epoch: cursor.epoch + 1, position: 0, order: newOrder() };
    const index = cursor.order[cursor.position] as number;
    cursor = { ...cursor, position: cursor.position + 1 };
    return source.get(index);
  };

  const runEval = async (): Promise<EvalReport | undefined> => {
    if (options.evalData === undefined && options.evaluate === undefined) return undefined;
    const metrics: Record<string, number> = {};
    if (options.evalData !== undefined)
      metrics.eval_loss = (await evaluateLoss(model, options.evalData, { lossChunkSize: args.lossChunkSize })).loss;
    if (options.evaluate !== undefined) Object.assign(metrics, await options.evaluate(model, step));
    const report = { step, metrics };
    evals = [...evals, report];
    await callbacks.onEvaluate(report);
    return report;
  };

  /** Updates the best metric; returns whether it improved. */
  const judge = (report: EvalReport): boolean => {
    const value = report.metrics[args.metricForBestModel];
    if (value === undefined || !Number.isFinite(value)) return false;
    const better =
      best === undefined ||
      (args.greaterIsBetter ? value > best.metric + args.earlyStoppingThreshold : value < best.metric - args.earlyStoppingThreshold);
    if (better) {
      best = { metric: value, step };
      badEvaluations = 0;
    } else badEvaluations++;
    return better;
  };

  let stopReason: TrainResult['stopReason'] = 'max_steps';
  const started = performance.now();
  let lastEval: Record<string, number> | undefined = evals[evals.length - 1]?.metrics;
  let ranLastStep = false;
  try {
    await callbacks.onTrainBegin({ startStep: step, maxSteps: args.maxSteps, resumedFrom });
    while (step < args.maxSteps) {
      const stepStart = performance.now();
      const lr = schedule(step);
      const micro: TrainBatch[] = [];
      for (let i = 0; i < args.gradientAccumulationSteps; i++) micro.push(await nextBatch());
      const trainedTokens = micro.reduce((n, b) => n + countTrainedTokens(b.labels, b.shape), 0);
      const tokens = micro.reduce((n, b) => n + b.shape[0] * b.shape[1], 0);
      const denominator = Math.max(trainedTokens, 1);
      let grads: Record<string, tf.Tensor> | undefined;
      const microLosses: tf.Scalar[] = [];
      for (const batch of micro) {
        checkInputIds(batch, model.config.vocabSize, `micro-batch of step ${step + 1}`);
        const { value, grads: g } = variableGradsLean(() => {
          const ids = tf.tensor2d(batch.inputIds, [...batch.shape], 'int32');
          const { sum } = modelLossSum(model, ids, batch.labels, forwardOptions(batch), { chunkSize: args.lossChunkSize });
          return tf.div(sum, denominator) as tf.Scalar;
        }, variables);
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
      if (finite) await optimizer.applyGradients(clip.grads, lr);
      tf.dispose([...new Set([...Object.values(summed), ...Object.values(clip.grads)])]);
      if (!finite && args.onNonFinite === 'stop') {
        stopReason = 'non_finite';
        throw new NonFiniteError({
          step: step + 1,
          what: Number.isFinite(loss) ? 'the gradient norm' : 'the loss',
          resumeFrom: lastCheckpoint,
        });
      }
      step++;
      losses.push(loss);
      lrs.push(lr);
      const seconds = (performance.now() - stepStart) / 1000;
      const report: StepReport = {
        step,
        maxSteps: args.maxSteps,
        loss,
        lr,
        gradNorm,
        trainedTokens,
        tokens,
        tokensPerSecond: tokens / Math.max(seconds, 1e-9),
        elapsedSeconds: (performance.now() - started) / 1000,
        epoch: cursor.epoch + cursor.position / cursor.order.length,
        skipped: !finite,
      };
      const keepGoing = await callbacks.onStepEnd(report);
      // On backends whose reads resolve as microtasks (wasm, cpu) the loop would never reach the
      // event loop's poll phase, where signals (and timers, I/O) are delivered: yield once a step.
      await new Promise((resolve) => (typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0)));

      // The last step evaluates (every run ends with an evaluation) before its checkpoint is
      // written, so that checkpoint's state records a best reached at the last step.
      const last = step >= args.maxSteps;
      if (last) ranLastStep = true;
      let saveNow = (args.saveSteps > 0 && step % args.saveSteps === 0) || (last && outputDir !== undefined);
      let stopNow = false;
      if ((args.evalSteps > 0 && step % args.evalSteps === 0) || last) {
        const evaluation = await runEval();
        if (evaluation !== undefined) {
          lastEval = evaluation.metrics;
          if (judge(evaluation)) saveNow = outputDir !== undefined;
          if (!last && args.earlyStoppingPatience > 0 && badEvaluations >= args.earlyStoppingPatience) {
            stopReason = 'early_stopping';
            stopNow = true;
          }
        }
      }
      if (keepGoing === false && !last) {
        stopReason = 'callback';
        stopNow = true;
      }
      if (signalled !== undefined && !last) {
        stopReason = 'signal';
        stopNow = true;
      }
      if (saveNow || stopNow) await save();
      if (stopNow) break;
    }
    // Resumed at (or past) `maxSteps`: nothing ran; evaluate and make sure the end is saved.
    if (stopReason === 'max_steps' && !ranLastStep) {
      const evaluation = await runEval();
      if (evaluation !== undefined) {
        lastEval = evaluation.metrics;
        judge(evaluation);
      }
      if (outputDir !== undefined && lastCheckpoint?.endsWith(checkpointName(step)) !== true) await save();
    }
  } finally {
    if (handleSignals) {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    gcOff?.();
    if (options.optimizer === undefined) optimizer.dispose();
  }
  const result: TrainResult = {
    step,
    stopReason,
    losses,
    lrs,
    evals,
    lastEval,
    best,
    lastCheckpoint,
    ...(signalled === undefined ? {} : { signal: signalled }),
  };
  await callbacks.onTrainEnd(result);
  return result;
}
