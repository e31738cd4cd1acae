/**
 * The code tables of bitsandbytes (0.50, `functional.py`): the 16 NF4 and FP4 values of
 * `get_4bit_type` (already divided by their max |value|, as float32) and the signed 8-bit dynamic
 * map of `create_dynamic_map(signed=True)` used for double quantization of absmax.
 */

/** 4-bit data types. */
export type QuantType = 'nf4' | 'fp4';

/** NF4 code table (quantiles of N(0, 1), index 7 = 0, index 15 = 1), float32. */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495,
  0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

/**
 * FP4 code table (1 sign, 2 exponent, 1 mantissa bit; bias 2) in bit-pattern order, divided by
 * 12 in float32 as `get_4bit_type('fp4')` does. Index 8 is +0 (Python `-0` is the integer 0).
 */
export const FP4_CODE: Float32Array = Float32Array.from(
  [0, 0.0625, 8, 12, 4, 6, 2, 3, 0, -0.0625, -8, -12, -4, -6, -2, -3].map((v) => Math.fround(v / 12)),
);

/** The 16-entry code table of a 4-bit type. */
export function codeOf(quantType: QuantType): Float32Array {
  return quantType === 'nf4' ? NF4_CODE : FP4_CODE;
}

const f32 = Math.fround;

/** `torch.linspace(start, end, steps)` in float32: the two-sided CPU formula with fused multiply-adds. */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  const step = f32(f32(f32(end) - f32(start)) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? f32(f32(start) + step * i) : f32(f32(end) - step * (steps - i - 1));
  return out;
}

/**
 * The 8-bit dynamic quantization map of bitsandbytes (`create_dynamic_map`, Dettmers 2015): a
 * dynamic exponent (10⁻⁶ … 10⁰) with a shrinking linear fraction, 256 sorted float32 values, bit
 * for bit. `signed` (double quantization, the first Adam moment) spans [-1, 1]; unsigned (the
 * second Adam moment) spans [0, 1] with twice the resolution.
 */
export function dynamicMap(signed: boolean, maxExponentBits = 7, totalBits = 8): Float32Array {
  const values: number[] = [];
  const nonSignBits = totalBits - 1;
  const additional = 2 ** (nonSignBits - maxExponentBits) - 1;
  const push = (scale: number, items: number): void => {
    const bounds = linspaceF32(0.1, 1, items);
    for (let k = 0; k + 1 < items; k++) {
      const mean = f32(f32((bounds[k] as number) + (bounds[k + 1] as number)) / 2);
      values.push(f32(f32(scale) * mean));
      if (signed) values.push(f32(-f32(scale) * mean));
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

/**
 * bitsandbytes' signed 8-bit dynamic quantization map (`create_dynamic_map(signed=True,
 * max_exponent_bits=7, total_bits=8)`), the `nested_quant_map` of double quantization: 256 sorted
 * float32 values. The parity test compares it to `code.dynamic` of tools/parity/quant/make_quant.py.
 */
export const DYNAMIC_MAP_SIGNED: Float32Array = dynamicMap(true);
