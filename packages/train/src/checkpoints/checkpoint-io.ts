import * as tf from '@tensorflow/tfjs';
import { FileFormatError, LoraError, parseJson } from '@lora/core';
import { nodeBuiltin } from '@lora/core/internal';
import { SafetensorsReader, type TensorToWrite, writeSafetensors } from '@lora/models/internal';
import type { Optimizer, OptimizerState } from '../optimizers/optimizer.js';
import { CheckpointWriteError } from '../errors/checkpoint-write-error.js';
import { CHECKPOINT_FILES, CHECKPOINT_FORMAT_VERSION, type TrainerState, TrainerStateSchema } from './trainer-state.js';

/**
 * Writes and reads the trainable weights of a checkpoint. The default writes the named parameters
 * to `trainable.safetensors`; a PEFT run passes one that writes `adapter_config.json` +
 * `adapter_model.safetensors` through `@lora/peft`.
 */
export interface WeightsIO {
  /** Writes the current weights into `dir` (an existing, empty folder). */
  save(dir: string): Promise<void>;
  /** Restores the weights from `dir` into the live variables, bit for bit. */
  load(dir: string): Promise<void>;
}

/** Name of the file in the output folder that names the latest checkpoint folder. */
export const LATEST_FILE = 'latest';
const PREFIX = 'checkpoint-';

// Checkpoints are folders (Node). The file system is loaded on first use, so that `train` without
// `outputDir`, which never gets here, runs in browsers too.
const FEATURE = 'training checkpoints (train with `outputDir`)';
const fsp = () => nodeBuiltin('fs/promises', FEATURE);
const path = () => nodeBuiltin('path', FEATURE);

/** {@link WeightsIO} over named variables in `trainable.safetensors` (float32). */
export function safetensorsWeightsIO(params: ReadonlyMap<string, tf.Variable>): WeightsIO {
  return {
    async save(dir) {
      const { join } = await path();
      const tensors: Record<string, TensorToWrite> = {};
      for (const [key, v] of params) tensors[key] = { dtype: 'F32', shape: v.shape, data: (await v.data()) as Float32Array };
      await writeSafetensors(join(dir, CHECKPOINT_FILES.weights), tensors, { metadata: { format: 'lora-train' } });
    },
    async load(dir) {
      const { join } = await path();
      const file = join(dir, CHECKPOINT_FILES.weights);
      const reader = await SafetensorsReader.open(file);
      try {
        for (const [key, v] of params) {
          if (!reader.has(key))
            throw new FileFormatError({
              file,
              field: key,
              message: 'tensor missing; was the checkpoint written for another model or adapter?',
            });
          const t = await reader.get(key);
          if (t.data.length !== v.size)
            throw new FileFormatError({
              file,
              field: key,
              message: `has ${t.data.length} values; the variable has ${v.size} [${v.shape}].`,
            });
          tf.tidy(() => v.assign(tf.tensor(t.data as Float32Array, v.shape, 'float32')));
        }
      } finally {
        await reader.close();
      }
    },
  };
}

/** Maps optimizer-state keys (`<tfjs variable name>.<slot>`) to `<parameter name>.<slot>` and back. */
function renameState(state: OptimizerState, params: ReadonlyMap<string, tf.Variable>, toParam: boolean): OptimizerState {
  const map = new Map<string, string>();
  for (const [key, v] of params) {
    if (toParam) map.set(v.name, key);
    else map.set(key, v.name);
  }
  const tensors: OptimizerState['tensors'] = {};
  for (const [k, value] of Object.entries(state.tensors)) {
    const dot = k.lastIndexOf('.');
    const name = map.get(k.slice(0, dot));
    if (name !== undefined) (tensors as Record<string, typeof value>)[`${name}${k.slice(dot)}`] = value;
  }
  return { ...state, tensors };
}

/** What {@link writeCheckpoint} saves. */
export interface CheckpointContent {
  readonly weights: WeightsIO;
  readonly params: ReadonlyMap<string, tf.Variable>;
  readonly optimizer: Optimizer;
  readonly state: Omit<TrainerState, 'formatVersion' | 'optimizer'>;
}

/** Folder name of the checkpoint of `step`. */
export function checkpointName(step: number): string {
  return `${PREFIX}${step}`;
}

/** Path of the checkpoint folder of `step` in `outputDir`. */
export async function checkpointPath(outputDir: string, step: number): Promise<string> {
  return (await path()).join(outputDir, checkpointName(step));
}

/**
 * Writes `outputDir/checkpoint-<step>` atomically: everything goes to a temporary folder that is
 * renamed into place, then `outputDir/latest` is replaced (temp file + rename). A crash leaves
 * either the previous checkpoint or the new one, never a half-written one.
 *
 * @throws CheckpointWriteError when the file system refuses a write (disk full, quota,
 *   permissions), naming the file, the reason and the checkpoint that is still intact.
 */
export async function writeCheckpoint(outputDir: string, content: CheckpointContent): Promise<string> {
  const name = checkpointName(content.state.step);
  const { join } = await path();
  const final = join(outputDir, name);
  const previous = await findLatestCheckpoint(outputDir).catch(() => undefined);
  let writing = outputDir;
  try {
    return await writeCheckpointFiles(outputDir, name, final, content, (path) => {
      writing = path;
    });
  } catch (error) {
    const errno = error as NodeJS.ErrnoException;
    if (LoraError.isInstance(error) || typeof errno.code !== 'string') throw error;
    throw new CheckpointWriteError({
      step: content.state.step,
      path: typeof errno.path === 'string' ? errno.path : writing,
      code: errno.code,
      reason: errno.message,
      resumeFrom: previous,
      cause: error,
    });
  }
}

async function writeCheckpointFiles(
  outputDir: string,
  name: string,
  final: string,
  content: CheckpointContent,
  at: (path: string) => void,
): Promise<string> {
  const { mkdir, rename, rm, writeFile } = await fsp();
  const { join } = await path();
  at(outputDir);
  await mkdir(outputDir, { recursive: true });
  const temporary = join(outputDir, `.tmp-${name}-${process.pid}-${Date.now()}`);
  await mkdir(temporary);
  try {
    // Paths are named as they will be once the temporary folder is renamed into place.
    at(`${final} (weights)`);
    await content.weights.save(temporary);
    at(join(final, CHECKPOINT_FILES.optimizer));
    const optimizerState = renameState(await content.optimizer.getState(), content.params, true);
    const tensors: Record<string, TensorToWrite> = {};
    for (const [key, { shape, data }] of Object.entries(optimizerState.tensors)) {
      tensors[key] = data instanceof Uint8Array ? { dtype: 'U8', shape, bytes: data } : { dtype: 'F32', shape, data };
    }
    await writeSafetensors(join(temporary, CHECKPOINT_FILES.optimizer), tensors, {
      metadata: { kind: optimizerState.kind, step: String(optimizerState.step) },
    });
    const state: TrainerState = {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      ...content.state,
      optimizer: { kind: optimizerState.kind, step: optimizerState.step },
    };
    at(join(final, CHECKPOINT_FILES.state));
    await writeFile(join(temporary, CHECKPOINT_FILES.state), `${JSON.stringify(state, null, 2)}\n`);
    at(final);
    await rm(final, { recursive: true, force: true });
    await rename(temporary, final);
  } catch (error) {
    await rm(temporary, { recursive: true, force: true });
    throw error;
  }
  const latestTemp = join(outputDir, `.${LATEST_FILE}.${process.pid}.tmp`);
  at(join(outputDir, LATEST_FILE));
  try {
    await writeFile(latestTemp, `${name}\n`);
    await rename(latestTemp, join(outputDir, LATEST_FILE));
  } catch (error) {
    await rm(latestTemp, { force: true });
    throw error;
  }
  return final;
}

/** Reads and validates `trainer_state.json` of a checkpoint folder. */
export async function readTrainerState(dir: string): Promise<TrainerState> {
  const { readFile } = await fsp();
  const { join } = await path();
  const file = join(dir, CHECKPOINT_FILES.state);
  const text = await readFile(file, 'utf8').catch((error: unknown) => {
    throw new FileFormatError({ file, message: 'cannot read the trainer state; is this a checkpoint folder?', cause: error });
  });
  const state = parseJson(text, TrainerStateSchema, { file });
  if (state.formatVersion > CHECKPOINT_FORMAT_VERSION) {
    throw new FileFormatError({
      file,
      field: 'formatVersion',
      message: `is ${state.formatVersion}; this @lora/train reads up to ${CHECKPOINT_FORMAT_VERSION}. Upgrade @lora/train.`,
    });
  }
  return state;
}

/**
 * Restores weights and optimizer state from a checkpoint folder and returns its trainer state.
 */
export async function readCheckpoint(
  dir: string,
  weights: WeightsIO,
  params: ReadonlyMap<string, tf.Variable>,
  optimizer: Optimizer,
): Promise<TrainerState> {
  const state = await readTrainerState(dir);
  await weights.load(dir);
  const { join } = await path();
  const file = join(dir, CHECKPOINT_FILES.optimizer);
  const reader = await SafetensorsReader.open(file);
  try {
    const tensors: Record<string, { shape: readonly number[]; data: Float32Array | Uint8Array }> = {};
    for (const key of reader.keys()) {
      const raw = await reader.getRaw(key);
      tensors[key] =
        reader.dtype(key) === 'U8'
          ? { shape: raw.shape, data: Uint8Array.from(raw.bytes) }
          : { shape: raw.shape, data: (await reader.get(key)).data as Float32Array };
    }
    optimizer.setState(renameState({ kind: state.optimizer.kind, step: state.optimizer.step, tensors }, params, false));
  } finally {
    await reader.close();
  }
  return state;
}

/** The folder named by `outputDir/latest`, or the highest-numbered checkpoint; undefined if none. */
export async function findLatestCheckpoint(outputDir: string): Promise<string | undefined> {
  const { readFile } = await fsp();
  const { join } = await path();
  const named = await readFile(join(outputDir, LATEST_FILE), 'utf8').catch(() => undefined);
  if (named !== undefined && named.trim() !== '') {
    const dir = join(outputDir, named.trim());
    const ok = await readFile(join(dir, CHECKPOINT_FILES.state), 'utf8').then(
      () => true,
      () => false,
    );
    if (ok) return dir;
  }
  const steps = await listCheckpoints(outputDir);
  const last = steps[steps.length - 1];
  return last === undefined ? undefined : join(outputDir, checkpointName(last));
}

/** Steps of the checkpoint folders in `outputDir`, ascending. */
export async function listCheckpoints(outputDir: string): Promise<number[]> {
  const { readdir } = await fsp();
  const entries = await readdir(outputDir, { withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isDirectory() && e.name.startsWith(PREFIX) && /^\d+$/.test(e.name.slice(PREFIX.length)))
    .map((e) => Number(e.name.slice(PREFIX.length)))
    .sort((a, b) => a - b);
}

/** Deletes step checkpoints beyond the newest `keep` (0 keeps all), never the `protect`ed ones (best, latest). */
export async function pruneCheckpoints(outputDir: string, keep: number, protect: readonly (string | undefined)[]): Promise<string[]> {
  if (keep <= 0) return [];
  const { rm } = await fsp();
  const { join } = await path();
  const steps = await listCheckpoints(outputDir);
  const keepNames = new Set(protect.filter((p): p is string => p !== undefined).map((p) => p.split(/[\\/]/).pop() as string));
  const removed: string[] = [];
  for (const step of steps.slice(0, Math.max(0, steps.length - keep))) {
    const name = checkpointName(step);
    if (keepNames.has(name)) continue;
    await rm(join(outputDir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

/** Error thrown when `resume` is asked for but no checkpoint exists. */
export function noCheckpointError(outputDir: string): LoraError {
  return new LoraError(
    `resume: no checkpoint in ${outputDir} (looked for ${LATEST_FILE} and ${PREFIX}<step> folders). Start without resume, or pass the checkpoint folder.`,
  );
}
