import * as tf from '@tensorflow/tfjs';
import { installNativeOps } from './native-ops.js';

/**
 * Matmuls on the tensorflow backend (`@tensorflow/tfjs-node`, `-gpu`), routed to the TensorFlow op
 * that is fastest for their shape.
 *
 * tfjs-node runs every `tf.matMul` as `BatchMatMulV2`. In the CPU builds of TensorFlow (2.x, oneDNN
 * on by default) that op is rewritten to oneDNN's batched matmul, whose fixed cost per call is
 * 100–200 µs: a decode step (rows = 1) of stories260K spends most of its time there. Measured on
 * this project's machines (2-core EPYC, libtensorflow 2.15): `[1,512]×[512,512]` 223 µs as
 * `BatchMatMulV2` vs 78 µs as `MatMul`; `[64,512]×[512,1376]` 508 vs 427 µs; large training
 * matmuls within noise of each other. So this kernel sends
 *  - 2-D products to `MatMul` (transpose flags as attributes),
 *  - batched products with few rows (≤ {@link SMALL_BATCHED_ROWS}) to `BatchMatMulV3`,
 *  - the rest (attention over long sequences) to `BatchMatMulV2`, as before.
 * 2-D products whose second operand is transposed (`x·Wᵀ`, the input gradient of a linear layer)
 * go to `BatchMatMulV2` with `adj_y` instead of `MatMul` with `transpose_b`: TensorFlow's `MatMul`
 * is slow with `transpose_b` when the contraction is long. Measured on a 2-core EPYC (libtensorflow
 * 2.15, medians of interleaved calls): the chunked loss's hidden-state gradient
 * `[42,49152]·[576,49152]ᵀ` 114 ms as `MatMul` vs 17 ms as `BatchMatMulV2`; `[42,8192]·[576,8192]ᵀ`
 * 8.8 vs 2.5 ms; `[384,1536]·[576,1536]ᵀ` 3.6 vs 3.1 ms; `[128,8192]·[64,8192]ᵀ` 0.62 vs 0.66 ms.
 * All three are TensorFlow's own float32 matmuls (same results up to summation order), with the
 * broadcasting rules of `BatchMatMulV2` for the batched ones. Greedy decode with the KV cache
 * runs 2.2× faster on stories260K (208 → 458 tokens/s), the same as turning oneDNN off
 * (`TF_ENABLE_ONEDNN_OPTS=0`), which would halve training speed instead.
 *
 * The kernel uses tfjs-node's backend internals (`binding.executeOp`, `getInputTensorIds`,
 * `createOutputTensor`, present in 4.x); when they are missing (another version, another package
 * registered as `tensorflow`) nothing is replaced.
 */
export const SMALL_BATCHED_ROWS = 64;

interface OpAttr {
  name: string;
  type: number;
  value: number | boolean;
}

interface TensorMetadata {
  id: number;
  shape: number[];
  dtype: number;
}

interface NodeBinding {
  TF_ATTR_TYPE: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_INT: number;
  TF_FLOAT: number;
  TF_INT32: number;
  TF_BOOL: number;
  executeOp(name: string, attrs: OpAttr[], inputIds: number[], numOutputs: number): TensorMetadata[];
  createTensor(shape: number[], dtype: number, values: Int32Array): number;
  deleteTensor(id: number): void;
}

interface NodeBackend {
  binding: NodeBinding;
  getInputTensorIds(tensors: tf.TensorInfo[]): number[];
  createOutputTensor(metadata: TensorMetadata): tf.TensorInfo;
  incRef(dataId: object): void;
}

function asNodeBackend(backend: unknown): NodeBackend | undefined {
  const b = backend as Partial<NodeBackend> | null;
  if (b === null || typeof b !== 'object') return undefined;
  const binding = b.binding as Partial<NodeBinding> | undefined;
  if (typeof binding?.executeOp !== 'function' || typeof binding.TF_FLOAT !== 'number') return undefined;
  if (typeof b.getInputTensorIds !== 'function' || typeof b.createOutputTensor !== 'function' || typeof b.incRef !== 'function')
    return undefined;
  if (typeof binding.createTensor !== 'function' || typeof binding.deleteTensor !== 'function') return undefined;
  return b as NodeBackend;
}

const installed = new WeakSet<object>();

/** The TensorFlow op (and its attributes) for one `BatchMatMul` call; exported for tests. */
export function tensorflowMatMulOp(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
  transposeB = false,
): { op: 'MatMul' | 'BatchMatMulV3' | 'BatchMatMulV2'; flags: [string, string] } {
  if (aShape.length === 2 && bShape.length === 2) {
    if (transposeB && !transposeA) return { op: 'BatchMatMulV2', flags: ['adj_x', 'adj_y'] };
    return { op: 'MatMul', flags: ['transpose_a', 'transpose_b'] };
  }
  const rows = aShape[aShape.length - (transposeA ? 1 : 2)] ?? 0;
  return { op: rows <= SMALL_BATCHED_ROWS ? 'BatchMatMulV3' : 'BatchMatMulV2', flags: ['adj_x', 'adj_y'] };
}

/**
 * Replaces the tensorflow backend's `BatchMatMul` kernel with the shape-routed one described
 * above. Idempotent; returns whether the routed kernel is (now) installed. Called by
 * `selectBackend` whenever it activates a tensorflow backend.
 */
export function installTensorflowKernels(): boolean {
  const backend = asNodeBackend(tf.findBackend('tensorflow'));
  if (backend === undefined) return false;
  if (installed.has(backend)) return true;
  const stock = tf.getKernel('BatchMatMul', 'tensorflow');
  if (stock === undefined) return false;
  const { binding } = backend;
  const type = (name: string): OpAttr => ({ name, type: binding.TF_ATTR_TYPE, value: binding.TF_FLOAT });
  const bool = (name: string, value: boolean): OpAttr => ({ name, type: binding.TF_ATTR_BOOL, value });
  const kernelFunc: tf.KernelFunc = (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock.kernelFunc(args);
    const { op, flags } = tensorflowMatMulOp(a.shape, b.shape, transposeA, transposeB);
    const types = op === 'BatchMatMulV3' ? [type('Ta'), type('Tb'), type('Tout')] : [type('T')];
    const attrs = [...types, bool(flags[0], transposeA), bool(flags[1], transposeB)];
    const [out] = binding.executeOp(op, attrs, backend.getInputTensorIds([a, b]), 1);
    return backend.createOutputTensor(out as TensorMetadata);
  };
  tf.unregisterKernel('BatchMatMul', 'tensorflow');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'tensorflow', kernelFunc });
  installConstantArgumentKernels(backend);
  installNativeOps(backend);
  installed.add(backend);
  return true;
}

/** Most int32 argument tensors kept alive by {@link installConstantArgumentKernels} at once. */
const MAX_CACHED_ARGUMENTS = 4096;

/**
 * tfjs-node's `Reshape`, `Transpose`, `Mean`, `Sum` and `Concat` kernels create a small int32
 * tensor for their shape / permutation / axes on every call (a tfjs tensor, written into
 * TensorFlow, then deleted: three extra N-API round trips), and `Mean` first casts its input to
 * float32 even when it is float32 already (a TensorFlow `Cast` op). `Cast` to the same dtype also
 * runs an op. These replacements run the same TensorFlow ops with the same inputs — identical
 * results — but keep the int32 arguments in a bounded cache of TensorFlow handles and skip the
 * no-op casts (a same-dtype `Cast` shares the input's data, as the cpu backend's does). A decode
 * step of stories260K has ~70 such ops; anything they do not cover goes to the stock kernel.
 */
function installConstantArgumentKernels(backend: NodeBackend): void {
  const { binding } = backend;
  const cache = new Map<string, number>();
  const argument = (values: readonly number[], scalar = false): number => {
    const key = `${scalar ? 's' : 'v'}${values.join(',')}`;
    let id = cache.get(key);
    if (id === undefined) {
      if (cache.size >= MAX_CACHED_ARGUMENTS) {
        for (const old of cache.values()) binding.deleteTensor(old);
        cache.clear();
      }
      id = binding.createTensor(scalar ? [] : [values.length], binding.TF_INT32, Int32Array.from(values));
      cache.set(key, id);
    }
    return id;
  };
  const tfType = (dtype: string): number | undefined =>
    dtype === 'float32' ? binding.TF_FLOAT : dtype === 'int32' ? binding.TF_INT32 : dtype === 'bool' ? binding.TF_BOOL : undefined;
  const typeAttr = (name: string, value: number): OpAttr => ({ name, type: binding.TF_ATTR_TYPE, value });
  const int32Attr = (name: string): OpAttr => typeAttr(name, binding.TF_INT32);
  const run = (op: string, attrs: OpAttr[], inputIds: number[]): tf.TensorInfo => {
    const [out] = binding.executeOp(op, attrs, inputIds, 1);
    return backend.createOutputTensor(out as TensorMetadata);
  };
  const idOf = (x: tf.TensorInfo): number => backend.getInputTensorIds([x])[0] as number;
  /** Registers `fast` for `name`; when it returns undefined the stock kernel runs. */
  const replace = (name: string, fast: (args: Parameters<tf.KernelFunc>[0]) => tf.TensorInfo | undefined): void => {
    const stock = tf.getKernel(name, 'tensorflow');
    if (stock === undefined) return;
    tf.unregisterKernel(name, 'tensorflow');
    tf.registerKernel({
      kernelName: name,
      backendName: 'tensorflow',
      kernelFunc: (args) => fast(args) ?? (stock.kernelFunc(args) as tf.TensorInfo),
    });
  };

  replace('Reshape', ({ inputs, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    const t = tfType(x.dtype);
    if (t === undefined) return undefined;
    return run('Reshape', [typeAttr('T', t), int32Attr('Tshape')], [idOf(x), argument((attrs as { shape: number[] }).shape)]);
  });
  replace('Transpose', ({ inputs, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    const t = tfType(x.dtype);
    if (t === undefined) return undefined;
    return run('Transpose', [typeAttr('T', t), int32Attr('Tperm')], [idOf(x), argument((attrs as { perm: number[] }).perm)]);
  });
  for (const op of ['Mean', 'Sum'] as const) {
    replace(op, ({ inputs, attrs }) => {
      const x = inputs.x as tf.TensorInfo;
      // Mean of int32 is computed in float32 by tfjs: leave that (and bool) to the stock kernel.
      if (x.dtype !== 'float32' && !(op === 'Sum' && x.dtype === 'int32')) return undefined;
      const { axis, keepDims } = attrs as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape);
      const attrList = [
        { name: 'keep_dims', type: binding.TF_ATTR_BOOL, value: keepDims },
        typeAttr('T', tfType(x.dtype) as number),
        int32Attr('Tidx'),
      ];
      return run(op, attrList, [idOf(x), argument(axes)]);
    });
  }
  replace('Concat', ({ inputs, attrs }) => {
    const xs = Object.values(inputs) as tf.TensorInfo[];
    const t = tfType(xs[0]?.dtype ?? 'string');
    if (xs.length < 2 || t === undefined || xs.some((x) => x.dtype !== xs[0]?.dtype || x.shape.some((d) => d === 0))) return undefined;
    const axis = tf.util.parseAxisParam((attrs as { axis: number }).axis, xs[0]?.shape ?? [])[0] as number;
    const attrList = [{ name: 'N', type: binding.TF_ATTR_INT, value: xs.length }, int32Attr('Tidx'), typeAttr('T', t)];
    return run('ConcatV2', attrList, [...backend.getInputTensorIds(xs), argument([axis], true)]);
  });
  replace('Cast', ({ inputs, attrs }) => {
    const x = inputs.x as tf.TensorInfo;
    if (x.dtype !== (attrs as { dtype: string }).dtype) return undefined;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}
