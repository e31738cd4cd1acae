import * as tf from '@tensorflow/tfjs';

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
  TF_FLOAT: number;
  executeOp(name: string, attrs: OpAttr[], inputIds: number[], numOutputs: number): TensorMetadata[];
}

interface NodeBackend {
  binding: NodeBinding;
  getInputTensorIds(tensors: tf.TensorInfo[]): number[];
  createOutputTensor(metadata: TensorMetadata): tf.TensorInfo;
}

function asNodeBackend(backend: unknown): NodeBackend | undefined {
  const b = backend as Partial<NodeBackend> | null;
  if (b === null || typeof b !== 'object') return undefined;
  const binding = b.binding as Partial<NodeBinding> | undefined;
  if (typeof binding?.executeOp !== 'function' || typeof binding.TF_FLOAT !== 'number') return undefined;
  if (typeof b.getInputTensorIds !== 'function' || typeof b.createOutputTensor !== 'function') return undefined;
  return b as NodeBackend;
}

const installed = new WeakSet<object>();

/** The TensorFlow op (and its attributes) for one `BatchMatMul` call; exported for tests. */
export function tensorflowMatMulOp(
  aShape: readonly number[],
  bShape: readonly number[],
  transposeA: boolean,
): { op: 'MatMul' | 'BatchMatMulV3' | 'BatchMatMulV2'; flags: [string, string] } {
  if (aShape.length === 2 && bShape.length === 2) return { op: 'MatMul', flags: ['transpose_a', 'transpose_b'] };
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
    const { op, flags } = tensorflowMatMulOp(a.shape, b.shape, transposeA);
    const types = op === 'BatchMatMulV3' ? [type('Ta'), type('Tb'), type('Tout')] : [type('T')];
    const attrs = [...types, bool(flags[0], transposeA), bool(flags[1], transposeB)];
    const [out] = binding.executeOp(op, attrs, backend.getInputTensorIds([a, b]), 1);
    return backend.createOutputTensor(out as TensorMetadata);
  };
  tf.unregisterKernel('BatchMatMul', 'tensorflow');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'tensorflow', kernelFunc });
  installed.add(backend);
  return true;
}
