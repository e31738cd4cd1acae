import * as tf from '@tensorflow/tfjs';
import {
  ADAM_STEP,
  ADD_RMS_NORM,
  ATTENTION,
  ATTENTION_GRAD,
  DECODE_ATTENTION,
  GGML_DEQUANTIZE,
  GGML_MATMUL,
  GGML_GATE_UP,
  GGML_MATMUL_N,
  LORA_LINEAR,
  LORA_LINEAR_GRAD,
  MATMUL_N,
  NF4_DEQUANTIZE,
  RMS_NORM,
  RMS_NORM_GRAD,
  ROPE_ATTENTION,
  ROPE_ATTENTION_GRAD,
  SILU_MUL,
  SILU_MUL_GRAD,
} from './native-kernel-names.js';

/**
 * @lora's own TensorFlow kernels on the tensorflow backend: `lora_ops.node`, compiled by
 * `tools/tfjs-node/setup.sh` from `tools/tfjs-node/ops/*.cc` against the same TensorFlow wheel as
 * libtensorflow, beside tfjs-node's addon (`lib/napi-vN/`). Loading it registers its ops with
 * TensorFlow; this module then registers them as tfjs kernels of the `tensorflow` backend, so they
 * run through `tf.engine().runKernel` like any kernel (tidy, memory accounting, profiling).
 *
 * The ops (docs/tensorflow-backend.md, "Native kernels"):
 * - `LoraGgmlMatMul` `{x [M, K], blocks int32 [N, W]}`, attrs `{ggmlType, k}` → `[M, N]`
 *   `= x · dequant(blocks)ᵀ` over llama.cpp's Q4_0 / Q4_1 / Q8_0 blocks, for decoding (few rows),
 *   and `LoraGgmlMatMulN` `{x, blocks0, …}`, attrs `{n, ggmlType, k}`: n such products sharing `x`;
 * - `LoraGgmlDequantize` `{blocks}`, attrs `{ggmlType, k}` → the float32 `[N, K]` weight;
 * - `LoraRmsNorm` `{x, scale}`, attrs `{eps}` and `LoraSiluMul` `{g, u}`: a decoder layer's norm
 *   and gate in one op each instead of six and three, and their gradients `LoraRmsNormGrad` and
 *   `LoraSiluMulGrad` (one op each instead of about eight and seven) for training;
 * - `LoraDecodeAttention`: a decoding step's attention after the projections, in one op;
 * - `LoraAttention` / `LoraAttentionGrad`: attention over whole sequences (prefill, training) and
 *   its gradient, one op each, the scores kept in per-thread blocks (`train_attention.cc`), and
 *   `LoraRopeAttention` / `LoraRopeAttentionGrad`, the same on the projections' rows with the
 *   rotary embedding folded in;
 * - `LoraAddRmsNorm` (residual add + the next norm) and `LoraMatMulN` (several float32 `[in, out]`
 *   products sharing `x`, e.g. q/k/v), for decoding (no gradient);
 * - `LoraLinear` / `LoraLinearGrad`: a frozen float32 base with one LoRA adapter, one op each way;
 * - `LoraAdamStep`: one Adam(W) update of a variable (parameter and both moments) in one op;
 * - `LoraNf4Dequantize` `{words, code, absmax}` or `{words, code, nestedAbsmax, offset, nestedMap}`,
 *   attrs `{rows, cols, blocksize, nestedBlocksize?}` → the float32 `[rows, cols]` weight of an
 *   `Nf4Linear` (TensorFlow ops `LoraNf4Dequantize` / `LoraNf4DequantizeNested`, see `nf4.cc`).
 *
 * Optional: without the file (not built, another platform, the GPU package, or
 * `LORA_NATIVE_OPS=0`) nothing is registered and GGUF weights are dequantized to float32 on load.
 * `LORA_NATIVE_OPS=<path>` loads that file instead of the one beside the addon.
 */
export const NATIVE_OPS_VERSION = 6;

interface Binding {
  TF_ATTR_INT: number;
  TF_ATTR_FLOAT: number;
  executeOp(name: string, attrs: { name: string; type: number; value: number }[], inputIds: number[], numOutputs: number): unknown[];
}

interface NodeBackend {
  binding: Binding;
  isGPUPackage?: boolean;
  getInputTensorIds(tensors: tf.TensorInfo[]): number[];
  createOutputTensor(metadata: unknown): tf.TensorInfo;
}

/** Why the native kernels are not loaded, or `undefined` once they are; set by {@link installNativeOps}. */
let unavailable: string | undefined = 'the tensorflow backend was not activated';

/**
 * Loads `lora_ops.node` and registers its kernels on the `tensorflow` backend. Idempotent, never
 * throws: returns whether the kernels are registered (see {@link nativeOpsStatus} for why not).
 * Called by `installTensorflowKernels` when a tensorflow backend is activated.
 */
export function installNativeOps(backend: unknown, env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  if (tf.getKernel(GGML_MATMUL, 'tensorflow') !== undefined) return true;
  const b = backend as Partial<NodeBackend> | null;
  if (b === null || typeof b !== 'object' || typeof b.binding?.executeOp !== 'function' || typeof b.createOutputTensor !== 'function') {
    unavailable = 'the tensorflow backend is not tfjs-node 4.x';
    return false;
  }
  if (b.isGPUPackage === true) {
    unavailable = 'the kernels are CPU-only and this is @tensorflow/tfjs-node-gpu';
    return false;
  }
  const setting = env.LORA_NATIVE_OPS;
  if (setting === '0' || setting === 'false') {
    unavailable = 'LORA_NATIVE_OPS=0';
    return false;
  }
  const path = setting !== undefined && setting !== '' && setting !== '1' ? setting : findOpsFile();
  if (path === undefined) {
    unavailable = 'lora_ops.node is not built (pnpm setup:tensorflow builds it)';
    return false;
  }
  try {
    const module = { exports: {} as { opsVersion?: unknown } };
    process.dlopen(module, path);
    if (module.exports.opsVersion !== NATIVE_OPS_VERSION) {
      unavailable = `${path} has ops version ${String(module.exports.opsVersion)}, this @lora/models needs ${NATIVE_OPS_VERSION} (rerun pnpm setup:tensorflow)`;
      return false;
    }
  } catch (error) {
    unavailable = `${path} did not load: ${(error as Error).message}`;
    return false;
  }
  registerKernels(b as NodeBackend);
  unavailable = undefined;
  return true;
}

/** `undefined` when the native kernels are registered, else why not (for logs and errors). */
export function nativeOpsStatus(): string | undefined {
  return tf.getKernel(GGML_MATMUL, 'tensorflow') !== undefined ? undefined : unavailable;
}

/** One tfjs kernel over a TensorFlow op of lora_ops.node. */
interface NativeKernel {
  name: string;
  /** The op's inputs, in order, from the kernel's named inputs and attributes. */
  inputs: (named: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap) => tf.TensorInfo[];
  attrs: (attrs: tf.NamedAttrMap) => { name: string; type: number; value: number }[];
  /** Number of outputs (default 1). */
  outputs?: (attrs: tf.NamedAttrMap) => number;
  /** The TensorFlow op when it is not `name` (one kernel over two ops). */
  op?: (named: tf.NamedTensorInfoMap) => string;
}

function registerKernels(backend: NodeBackend): void {
  const { binding } = backend;
  const int = (name: string, value: unknown) => ({ name, type: binding.TF_ATTR_INT, value: value as number });
  const float = (name: string, value: unknown) => ({ name, type: binding.TF_ATTR_FLOAT, value: value as number });
  const named =
    (...names: string[]) =>
    (inputs: tf.NamedTensorInfoMap) =>
      names.map((n) => inputs[n] as tf.TensorInfo);
  /** `x` then `prefix0` … `prefix{n-1}` (the list inputs of the `…N` ops). */
  const list = (prefix: string) => (inputs: tf.NamedTensorInfoMap, a: tf.NamedAttrMap) => [
    inputs.x as tf.TensorInfo,
    ...Array.from({ length: a.n as number }, (_, i) => inputs[`${prefix}${i}`] as tf.TensorInfo),
  ];
  const ggml = (a: tf.NamedAttrMap) => [int('ggml_type', a.ggmlType), int('k', a.k)];
  const kernels: NativeKernel[] = [
    { name: GGML_MATMUL, inputs: named('x', 'blocks'), attrs: ggml },
    { name: GGML_MATMUL_N, inputs: list('blocks'), attrs: (a) => [int('N', a.n), ...ggml(a)], outputs: (a) => a.n as number },
    { name: GGML_GATE_UP, inputs: named('x', 'gate', 'up'), attrs: ggml },
    { name: GGML_DEQUANTIZE, inputs: named('blocks'), attrs: ggml },
    { name: RMS_NORM, inputs: named('x', 'scale'), attrs: (a) => [float('eps', a.eps)] },
    { name: ADD_RMS_NORM, inputs: named('x', 'delta', 'scale'), attrs: (a) => [float('eps', a.eps)], outputs: () => 2 },
    { name: SILU_MUL, inputs: named('g', 'u'), attrs: () => [] },
    { name: RMS_NORM_GRAD, inputs: named('x', 'scale', 'dy'), attrs: (a) => [float('eps', a.eps)] },
    { name: SILU_MUL_GRAD, inputs: named('g', 'u', 'dy'), attrs: () => [], outputs: () => 2 },
    { name: MATMUL_N, inputs: list('w'), attrs: (a) => [int('N', a.n)], outputs: (a) => a.n as number },
    {
      name: DECODE_ATTENTION,
      inputs: named('q', 'k', 'v', 'qRot', 'kRot', 'keys', 'values'),
      attrs: (a) => [int('heads', a.heads), int('kv_heads', a.kvHeads)],
      outputs: () => 3,
    },
    // The four attention ops: `q, k, v`, the extra inputs (`mask` read only with `hasMask`: `q`
    // stands in without one), and for the gradient ops `out, stats, dOut`.
    ...(
      [
        [ATTENTION, ['mask'], []],
        [ATTENTION_GRAD, ['mask', 'out', 'stats', 'dOut'], []],
        [ROPE_ATTENTION, ['cos', 'sin', 'mask'], ['heads', 'kvHeads']],
        [ROPE_ATTENTION_GRAD, ['cos', 'sin', 'mask', 'out', 'stats', 'dOut'], ['heads', 'kvHeads']],
      ] as const
    ).map(([name, extra, heads]) => ({
      name,
      inputs: (inputs: tf.NamedTensorInfoMap) =>
        (['q', 'k', 'v', ...extra] as string[]).map((n) => (inputs[n] ?? (n === 'mask' ? inputs.q : undefined)) as tf.TensorInfo),
      attrs: (a: tf.NamedAttrMap) => [
        float('scale', a.scale),
        int('query_length', a.queryLength),
        int('has_mask', a.hasMask === true ? 1 : 0),
        int('causal', a.causal === true ? 1 : 0),
        ...(heads as readonly string[]).map((key) => int(key === 'heads' ? 'heads' : 'kv_heads', a[key])),
      ],
      outputs: () => (name === ATTENTION || name === ROPE_ATTENTION ? 2 : 3),
    })),
    {
      name: LORA_LINEAR,
      // `xl` (the adapter's input) defaults to `x`; without a bias the op's `bias` input is not read.
      inputs: (inputs) => [
        ...named('x')(inputs),
        (inputs.xl ?? inputs.x) as tf.TensorInfo,
        ...named('w', 'a', 'b')(inputs),
        (inputs.bias ?? inputs.x) as tf.TensorInfo,
      ],
      attrs: (a) => [float('scale', a.scale), int('has_bias', a.hasBias === true ? 1 : 0)],
      outputs: () => 2,
    },
    {
      name: LORA_LINEAR_GRAD,
      inputs: named('xl', 'w', 'a', 'b', 'xa', 'dy'),
      attrs: (a) => [float('scale', a.scale), int('split', a.split === true ? 1 : 0)],
      outputs: () => 4,
    },
    {
      name: ADAM_STEP,
      inputs: named('param', 'expAvg', 'expAvgSq', 'grad'),
      attrs: (a) => [
        float('one_minus_beta1', a.oneMinusBeta1),
        float('beta2', a.beta2),
        float('one_minus_beta2', a.oneMinusBeta2),
        float('bias2_sqrt', a.bias2Sqrt),
        float('eps', a.eps),
        float('neg_step_size', a.negStepSize),
        float('weight_decay', a.weightDecay),
        float('decay_factor', a.decayFactor),
        int('mode', a.mode),
      ],
      outputs: () => 3,
    },
    {
      // Plain float32 absmax, or double quantization (8-bit absmax codes in the words).
      name: NF4_DEQUANTIZE,
      op: (inputs) => (inputs.nestedAbsmax === undefined ? 'LoraNf4Dequantize' : 'LoraNf4DequantizeNested'),
      inputs: (inputs) =>
        inputs.nestedAbsmax === undefined
          ? named('words', 'code', 'absmax')(inputs)
          : named('words', 'code', 'nestedAbsmax', 'offset', 'nestedMap')(inputs),
      attrs: (a) => [
        int('rows', a.rows),
        int('cols', a.cols),
        int('blocksize', a.blocksize),
        ...(a.nestedBlocksize === undefined ? [] : [int('nested_blocksize', a.nestedBlocksize)]),
      ],
    },
  ];
  for (const kernel of kernels) {
    tf.registerKernel({
      kernelName: kernel.name,
      backendName: 'tensorflow',
      kernelFunc: ({ inputs, attrs = {} }) => {
        const ids = backend.getInputTensorIds(kernel.inputs(inputs, attrs));
        const count = kernel.outputs?.(attrs) ?? 1;
        const outs = binding
          .executeOp(kernel.op?.(inputs) ?? kernel.name, kernel.attrs(attrs), ids, count)
          .map((out) => backend.createOutputTensor(out));
        return count === 1 && kernel.outputs === undefined ? (outs[0] as tf.TensorInfo) : outs;
      },
    });
  }
}

/** `lib/napi-v*\/lora_ops.node` of the installed `@tensorflow/tfjs-node`, if built. */
function findOpsFile(): string | undefined {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (typeof getBuiltin !== 'function') return undefined; // Node < 20.16
  const { createRequire } = getBuiltin('node:module') as typeof import('node:module');
  const { existsSync, readdirSync } = getBuiltin('node:fs') as typeof import('node:fs');
  const { dirname, join } = getBuiltin('node:path') as typeof import('node:path');
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-node/package.json')), 'lib');
  } catch {
    return undefined;
  }
  if (!existsSync(dir)) return undefined;
  for (const sub of readdirSync(dir)
    .filter((d) => d.startsWith('napi-v'))
    .sort()
    .reverse()) {
    const file = join(dir, sub, 'lora_ops.node');
    if (existsSync(file)) return file;
  }
  return undefined;
}
