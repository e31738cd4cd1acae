/**
 * float32 sum and mean in the exact order of PyTorch's CPU `cascade_sum` (ATen
 * `native/cpu/SumKernel.cpp`) for one contiguous 1-D tensor, so the double-quantization offset
 * (`absmax.mean()`) has the same bits as bitsandbytes'. Vectors of 8 float32 lanes (what torch
 * 2.x on x86 uses here, checked against torch on an AVX512 machine by the fixtures); reductions over
 * more than 32768 elements are split across threads by torch and are not reproduced bit for bit.
 */

const f32 = Math.fround;

/** ceil(log2(x)) as ATen's `CeilLog2` (1 for x ≤ 2). */
function ceilLog2(x: number): number {
  return x <= 2 ? 1 : 32 - Math.clz32(x - 1);
}

/** Loads element `k` of "row" `i` as a vector of `width` float32 lanes. */
type Load = (i: number, k: number) => Float32Array;

function addInto(acc: Float32Array, v: Float32Array): void {
  for (let l = 0; l < acc.length; l++) acc[l] = f32((acc[l] as number) + (v[l] as number));
}

function multiRowSum(load: Load, nrows: number, width: number, size: number): Float32Array[] {
  const levels = 4;
  const levelPower = Math.max(4, Math.floor(ceilLog2(size) / levels));
  const levelStep = 2 ** levelPower;
  const levelMask = levelStep - 1;
  const acc = Array.from({ length: levels }, () => Array.from({ length: nrows }, () => new Float32Array(width)));
  let i = 0;
  while (i + levelStep <= size) {
    for (let j = 0; j < levelStep; j++, i++) for (let k = 0; k < nrows; k++) addInto(acc[0]![k]!, load(i, k));
    for (let j = 1; j < levels; j++) {
      for (let k = 0; k < nrows; k++) {
        addInto(acc[j]![k]!, acc[j - 1]![k]!);
        acc[j - 1]![k]!.fill(0);
      }
      if ((i & (levelMask * 2 ** (j * levelPower))) !== 0) break;
    }
  }
  for (; i < size; i++) for (let k = 0; k < nrows; k++) addInto(acc[0]![k]!, load(i, k));
  for (let j = 1; j < levels; j++) for (let k = 0; k < nrows; k++) addInto(acc[0]![k]!, acc[j]![k]!);
  return acc[0]!;
}

function rowSum(load: (i: number) => Float32Array, width: number, size: number): Float32Array {
  const ilp = 4;
  const sizeIlp = Math.floor(size / ilp);
  const partial = multiRowSum((i, k) => load(i * ilp + k), ilp, width, sizeIlp);
  for (let i = sizeIlp * ilp; i < size; i++) addInto(partial[0]!, load(i));
  for (let k = 1; k < ilp; k++) addInto(partial[0]!, partial[k]!);
  return partial[0]!;
}

/**
 * Sum of `values` in float32, bit-identical to `torch.sum` on a contiguous CPU float32 tensor of
 * at most 32768 elements (single-threaded) with `lanes`-wide float vectors.
 */
export function torchFloat32Sum(values: Float32Array, lanes = 8): number {
  const n = values.length;
  if (n >= lanes) {
    const vecCount = Math.floor(n / lanes);
    const vec = rowSum((i) => values.subarray(i * lanes, i * lanes + lanes), lanes, vecCount);
    let total = 0;
    for (let k = vecCount * lanes; k < n; k++) total = f32(total + (values[k] as number));
    for (let l = 0; l < lanes; l++) total = f32(total + (vec[l] as number));
    return total;
  }
  const one = new Float32Array(1);
  return rowSum(
    (i) => {
      one[0] = values[i] as number;
      return one;
    },
    1,
    n,
  )[0] as number;
}

/** `torch.mean` of a contiguous float32 CPU tensor: {@link torchFloat32Sum} divided by n in float32. */
export function torchFloat32Mean(values: Float32Array, lanes = 8): number {
  return f32(torchFloat32Sum(values, lanes) / values.length);
}
