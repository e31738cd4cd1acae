const f = Math.fround;

/** `torch.linspace(start, end, steps)` in float32: the two-sided CPU formula with fused multiply-adds. */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const step = f(f(f(end) - f(start)) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? f(f(start) + step * i) : f(f(end) - step * (steps - i - 1));
  return out;
}

/**
 * The 8-bit dynamic quantization map of bitsandbytes (`create_dynamic_map`, Dettmers 2015): a
 * dynamic exponent (10⁻⁶ … 10⁰) with a shrinking linear fraction, 256 sorted float32 values.
 * `signed` (first Adam moment) spans [-1, 1]; unsigned (second moment) spans [0, 1] with twice the
 * resolution.
 */
export function dynamicMap(signed: boolean, maxExponentBits = 7, totalBits = 8): Float32Array {
  const values: number[] = [];
  const nonSignBits = totalBits - 1;
  const additional = 2 ** (nonSignBits - maxExponentBits) - 1;
  const push = (scale: number, items: number): void => {
    const bounds = linspaceF32(0.1, 1, items);
    for (let k = 0; k + 1 < items; k++) {
      const mean = f(f((bounds[k] as number) + (bounds[k + 1] as number)) / 2);
      values.push(f(f(scale) * mean));
      if (signed) values.push(f(-f(scale) * mean));
    }
  };
  let i = 0;
  for (; i < maxExponentBits; i++) {
    const items = signed ? 2 ** (i + nonSignBits - maxExponentBits) + 1 : 2 ** (i + nonSignBits - maxExponentBits + 1) + 1;
    push(10 ** (-(maxExponentBits - 1) + i), items);
  }
  if (additional > 0) push(10 ** (-(maxExponentBits - 1) + i - 1), additional + 1);
  values.push(0, 1);
  while (values.length < 2 ** totalBits) values.push(0);
  return Float32Array.from(values.sort((a, b) => a - b));
}

const midpointCache = new WeakMap<Float32Array, Float32Array>();

/** float32 midpoints between neighbouring codes (the bucket bounds). */
function midpoints(code: Float32Array): Float32Array {
  let bounds = midpointCache.get(code);
  if (bounds === undefined) {
    bounds = new Float32Array(code.length - 1);
    for (let i = 0; i + 1 < code.length; i++) bounds[i] = f(f((code[i] as number) + (code[i + 1] as number)) / 2);
    midpointCache.set(code, bounds);
  }
  return bounds;
}

/** Bucket of `x`: the number of bounds strictly below it (`torch.bucketize`, ties to the lower code). */
function bucket(bounds: Float32Array, x: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((bounds[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Blockwise 8-bit quantization as bitsandbytes' reference `quantize_blockwise`: per block of
 * `blockSize` values, `absmax` = max |x|, then `x · (1 / absmax)` clamped to [-1, 1] becomes the
 * index of the nearest code (bucketized on the float32 midpoints, ties to the lower code).
 * Writes into `codes` and `absmax` (length ⌈n / blockSize⌉).
 */
export function quantizeBlockwise(
  values: Float32Array,
  code: Float32Array,
  blockSize: number,
  codes: Uint8Array,
  absmax: Float32Array,
): void {
  for (let b = 0, start = 0; start < values.length; b++, start += blockSize)
    quantizeBlock(values, start, Math.min(start + blockSize, values.length), code, codes, absmax, b);
}

/**
 * Quantizes `values[start, end)` as block `block` (see {@link quantizeBlockwise}); `values` may be a
 * scratch buffer holding only this block when `offset` maps it to `codes` (`codes[offset + i]`).
 */
export function quantizeBlock(
  values: Float32Array,
  start: number,
  end: number,
  code: Float32Array,
  codes: Uint8Array,
  absmax: Float32Array,
  block: number,
  offset = 0,
): void {
  let m = 0;
  for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i] as number));
  absmax[block] = m;
  const bounds = midpoints(code);
  const inverse = f(1 / Math.max(m, 1e-38));
  for (let i = start; i < end; i++) codes[offset + i] = bucket(bounds, Math.min(1, Math.max(-1, f((values[i] as number) * inverse))));
}

/** Inverse of {@link quantizeBlockwise}: `code[q] · absmax` per block, into `out`. */
export function dequantizeBlockwise(
  codes: Uint8Array,
  absmax: Float32Array,
  code: Float32Array,
  blockSize: number,
  out: Float32Array,
): void {
  for (let i = 0; i < codes.length; i++) out[i] = f((code[codes[i] as number] as number) * (absmax[Math.floor(i / blockSize)] as number));
}
