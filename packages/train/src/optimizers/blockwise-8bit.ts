const f = Math.fround;

/** `torch.linspace(start, end, steps)` in float32 (the two-sided CPU formula). */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const step = f(f(f(end) - f(start)) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? f(f(start) + f(step * i)) : f(f(end) - f(step * (steps - i - 1)));
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

/** Index of the code nearest to `x` in a sorted `code` table (ties to the lower index). */
function nearest(code: Float32Array, x: number): number {
  let lo = 0;
  let hi = code.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((code[mid] as number) <= x) lo = mid;
    else hi = mid;
  }
  const dl = Math.abs(x - (code[lo] as number));
  const dh = Math.abs(x - (code[hi] as number));
  return dh < dl ? hi : lo;
}

/**
 * Blockwise 8-bit quantization as bitsandbytes' `quantize_blockwise`: per block of `blockSize`
 * values, `absmax` = max |x|, then each `x / absmax` becomes the index of the nearest code.
 * Writes into `codes` and `absmax` (length ⌈n / blockSize⌉).
 */
export function quantizeBlockwise(values: Float32Array, code: Float32Array, blockSize: number, codes: Uint8Array, absmax: Float32Array): void {
  const n = values.length;
  const zero = nearest(code, 0);
  for (let b = 0, start = 0; start < n; b++, start += blockSize) {
    const end = Math.min(start + blockSize, n);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i] as number));
    absmax[b] = m;
    for (let i = start; i < end; i++) codes[i] = m === 0 ? zero : nearest(code, f((values[i] as number) / m));
  }
}

/** Inverse of {@link quantizeBlockwise}: `code[q] · absmax` per block, into `out`. */
export function dequantizeBlockwise(codes: Uint8Array, absmax: Float32Array, code: Float32Array, blockSize: number, out: Float32Array): void {
  for (let i = 0; i < codes.length; i++) out[i] = f((code[codes[i] as number] as number) * (absmax[Math.floor(i / blockSize)] as number));
}
