import * as tf from '@tensorflow/tfjs';
import { InvalidArgumentError, LoraError } from '@lora/core';
import { importOptional } from './import-optional.js';
import { smokeTestBackend } from './smoke-test.js';
import { installTensorflowKernels } from './tensorflow-kernels.js';
import { filterXnnStatusMessages } from './wasm-messages.js';
import { registerHardwareWebGpu } from './webgpu.js';

/**
 * Backends `@lora` can run on. `tensorflow` is libtensorflow through `@tensorflow/tfjs-node`,
 * `tensorflow-gpu` the CUDA build through `@tensorflow/tfjs-node-gpu`; both register the tfjs
 * backend named `tensorflow`.
 */
export type BackendName = 'tensorflow-gpu' | 'webgpu' | 'tensorflow' | 'wasm' | 'cpu';

/** Every {@link BackendName}, in the automatic order of preference. */
export const backendNames: readonly BackendName[] = ['tensorflow-gpu', 'webgpu', 'tensorflow', 'wasm', 'cpu'];

/** How to bring up one backend: import its package and register it with tfjs. */
export interface BackendCandidate {
  name: BackendName;
  /** The tfjs backend name it registers. */
  tfjsBackend: string;
  /** Imports/registers it; returns an optional detail for the log (e.g. the GPU adapter). */
  load(): Promise<string | void>;
}

/** The built-in candidates, in automatic order. Heavy packages are optional peers loaded lazily. */
export const backendCandidates: readonly BackendCandidate[] = [
  {
    name: 'tensorflow-gpu',
    tfjsBackend: 'tensorflow',
    load: async () => void (await importOptional('@tensorflow/tfjs-node-gpu')),
  },
  { name: 'webgpu', tfjsBackend: 'webgpu', load: registerHardwareWebGpu },
  {
    name: 'tensorflow',
    tfjsBackend: 'tensorflow',
    load: async () => void (await importOptional('@tensorflow/tfjs-node')),
  },
  {
    name: 'wasm',
    tfjsBackend: 'wasm',
    load: async () => {
      filterXnnStatusMessages();
      await import('@tensorflow/tfjs-backend-wasm');
    },
  },
  { name: 'cpu', tfjsBackend: 'cpu', load: async () => undefined },
];

function message(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
}

/** Brings up one candidate and smoke-tests it; throws with the reason when it cannot run. */
async function tryCandidate(candidate: BackendCandidate): Promise<string | undefined> {
  const detail = (await candidate.load()) ?? undefined;
  if (tf.findBackendFactory(candidate.tfjsBackend) === null) {
    throw new LoraError(`its package loaded but registered no tfjs backend "${candidate.tfjsBackend}"`);
  }
  // The cpu backend greets Node users once with a multi-line console.warn; the line we print
  // already says which backend runs.
  const instance = tf.findBackend(candidate.tfjsBackend) as { firstUse?: boolean } | null;
  if (!(await tf.setBackend(candidate.tfjsBackend))) {
    throw new LoraError(`tfjs could not initialise backend "${candidate.tfjsBackend}"`);
  }
  await tf.ready();
  const active = (instance ?? tf.backend()) as { firstUse?: boolean };
  if (candidate.name === 'cpu' && 'firstUse' in active) active.firstUse = false;
  if (candidate.tfjsBackend === 'tensorflow') installTensorflowKernels();
  await smokeTestBackend();
  return detail;
}

/**
 * Tries `candidates` in order and activates the first that loads and passes the smoke test.
 * With `required` set, only that candidate is tried and its failure throws. Exposed for tests
 * and for applications that bring their own backend list; most code calls {@link selectBackend}.
 */
export async function selectFromCandidates(
  candidates: readonly BackendCandidate[],
  options: SelectBackendOptions & { reason: string; required?: boolean },
): Promise<BackendSelection> {
  const env = options.env ?? process.env;
  const log = options.silent ? () => {} : (options.log ?? ((line: string) => void process.stderr.write(`${line}\n`)));
  const debug = options.silent
    ? () => {}
    : (options.debug ?? (env.LORA_DEBUG ? (line: string) => void process.stderr.write(`${line}\n`) : () => {}));
  const tried: BackendAttempt[] = [];
  for (const candidate of candidates) {
    let detail: string | undefined;
    try {
      detail = await tryCandidate(candidate);
    } catch (error) {
      const reason = message(error);
      tried.push({ name: candidate.name, ok: false, error: reason });
      debug(`[lora] backend ${candidate.name} skipped: ${reason}`);
      if (options.required) {
        throw new LoraError(
          `Backend "${candidate.name}" (${options.reason}) cannot run: ${reason}. ` +
            `Install its package (see @lora/models README, "Backends"), pick another backend, or unset LORA_BACKEND for automatic selection.`,
          { cause: error },
        );
      }
      continue;
    }
    tried.push({ name: candidate.name, ok: true });
    const skipped = tried.filter((t) => !t.ok).map((t) => `${t.name}: ${t.error}`);
    const reason = skipped.length === 0 ? options.reason : `${options.reason}; skipped ${skipped.join('; ')}`;
    log(`[lora] backend: ${candidate.name}${detail === undefined ? '' : ` (${detail})`} — ${reason}`);
    return { name: candidate.name, tfjsBackend: candidate.tfjsBackend, reason, tried };
  }
  throw new LoraError(`No tfjs backend could run: ${tried.map((t) => `${t.name} (${t.error})`).join(', ')}.`);
}

/**
 * Chooses and activates the tfjs backend, as docs/architecture.md "Backend facts" says: the `backend`
 * option or `LORA_BACKEND` wins; otherwise the first of tensorflow-gpu (`@tensorflow/tfjs-node-gpu`),
 * hardware WebGPU (`webgpu` + `@tensorflow/tfjs-backend-webgpu`, software adapters rejected),
 * tensorflow (`@tensorflow/tfjs-node`), wasm and cpu that loads and passes a matmul + gradient
 * smoke test. Missing optional packages are a normal fallback (reported through `debug`).
 * Prints one line naming the backend (stderr by default). Activating a tensorflow backend also
 * installs @lora's faster tfjs-node kernels (`installTensorflowKernels`: shape-routed matmuls,
 * cached int32 arguments — the same TensorFlow ops, the same results); call that yourself if you
 * activate tfjs-node with `tf.setBackend('tensorflow')` directly.
 *
 * @example
 * ```ts
 * const { name } = await selectBackend();            // automatic
 * await selectBackend({ backend: 'cpu', silent: true }); // the numerical reference
 * ```
 */
export async function selectBackend(
  options: {
    /** Use this backend; overrides `LORA_BACKEND`. Failing to start it is an error, not a fallback. */
    backend?: BackendName;
    /** Receives the single line saying which backend runs (default: written to stderr). */
    log?: (line: string) => void;
    /** Receives one line per skipped candidate (default: stderr when `LORA_DEBUG` is set, else dropped). */
    debug?: (line: string) => void;
    /** Print nothing (neither the backend line nor debug lines). */
    silent?: boolean;
    /** Environment to read `LORA_BACKEND` and `LORA_DEBUG` from (default `process.env`). */
    env?: Readonly<Record<string, string | undefined>>;
  } = {},
): Promise<{
  /** The backend that runs. */
  name: BackendName;
  /** Its tfjs name (`tf.getBackend()`): `tensorflow`, `webgpu`, `wasm` or `cpu`. */
  tfjsBackend: string;
  /** Why it was chosen: `option`, `LORA_BACKEND`, or the automatic order with what was skipped. */
  reason: string;
  /** Every backend tried, in order, the chosen one last. */
  tried: Array<{
    name: BackendName;
    /** True for the backend that was chosen. */
    ok: boolean;
    /** Why it was not chosen (package missing, software adapter, smoke test failure, ...). */
    error?: string;
  }>;
}> {
  const env = options.env ?? process.env;
  const fromEnv = env.LORA_BACKEND === undefined || env.LORA_BACKEND === '' ? undefined : env.LORA_BACKEND;
  const wanted = options.backend ?? fromEnv;
  if (wanted === undefined) {
    return selectFromCandidates(backendCandidates, { ...options, reason: 'automatic choice' });
  }
  const source = options.backend !== undefined ? 'backend option' : 'LORA_BACKEND';
  const candidate = backendCandidates.find((c) => c.name === wanted);
  if (candidate === undefined) {
    throw new InvalidArgumentError({
      argument: source,
      message: `unknown backend "${wanted}"; expected one of ${backendNames.join(', ')}.`,
    });
  }
  return selectFromCandidates([candidate], { ...options, reason: `set by ${source}`, required: true });
}

/** One backend that selection tried. */
export type BackendAttempt = BackendSelection['tried'][number];

/** Options of {@link selectBackend}. The public signature spells it out. */
export type SelectBackendOptions = NonNullable<Parameters<typeof selectBackend>[0]>;

/** The result of {@link selectBackend}. */
export type BackendSelection = Awaited<ReturnType<typeof selectBackend>>;
