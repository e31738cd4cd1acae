import { InvalidArgumentError } from '@lora/core';
import { codeOf, DYNAMIC_MAP_SIGNED, type QuantType } from './codebooks/codebooks.js';
import { torchFloat32Mean } from './torch-sum.js';

const f32 = Math.fround;
/** torch `clamp(min=1e-38)` on float32 (a subnormal). */
const MIN_SCALE = Math.fround(1e-38);

/** Blocksizes bitsandbytes accepts for 4-bit quantization. */
export const BLOCKSIZES = [32, 64, 128, 256, 512, 1024, 2048, 4096] as const;

/** Blocksize of the double quantization of absmax (bitsandbytes' `quantize_blockwise` default). */
export const NESTED_BLOCKSIZE = 256;

/** absmax compressed by double quantization (`compress_statistics=True`). */
export interface NestedAbsmax {
  /** One 8-bit code of the dynamic map per absmax entry. */
  readonly absmax: Uint8Array;
  /** float32 absmax of each block of 256 (absmax − offset) values. */
  readonly nestedAbsmax: Float32Array;
  /** float32 mean of the original absmax, subtracted before quantizing. */
  readonly offset: number;
}

/** Throws unless `blocksize` is one bitsandbytes accepts. */
export function checkBlocksize(blocksize: number, argument = 'blocksize'): void {
  if (!(BLOCKSIZES as readonly number[]).includes(blocksize)) {
    throw new InvalidArgumentError({ argument, message: `blocksize ${blocksize} is not one of ${BLOCKSIZES.join(', ')}.` });
  }
}

/** Sorted 4-bit code positions and the float32 midpoints between neighbours (bnb's bucketize bounds). */
function bucketBounds(quantType: QuantType): { bounds: Float32Array; order: Uint8Array } {
  const code = codeOf(quantType);
  // Stable ascending sort: the tie 0 / -0 of FP4 keeps index 0 before index 8, as torch.argsort does.
  const order = Uint8Array.from([...code.keys()].sort((a, b) => (code[a] as number) - (code[b] as number) || a - b));
  const bounds = new Float32Array(15);
  for (let i = 0; i < 15; i++) bounds[i] = f32(f32((code[order[i] as number] as number) + (code[order[i + 1] as number] as number)) / 2);
  return { bounds, order };
}

const BOUNDS: Record<QuantType, { bounds: Float32Array; order: Uint8Array }> = {
  nf4: bucketBounds('nf4'),
  fp4: bucketBounds('fp4'),
};

/** Number of blocks of `blocksize` covering `n` elements. */
export function blockCount(n: number, blocksize: number): number {
  return Math.ceil(n / blocksize);
}

/**
 * 4-bit blockwise quantization, byte-identical to bitsandbytes' `quantize_4bit` on CPU: absmax per
 * block, x·(1/absmax) (x/absmax in a partial last block) clamped to [-1, 1], the code whose
 * float32 midpoint interval holds it (ties go to the lower code), packed high nibble first with a
 * zero code appended when n is odd.
 *
 * @param data - The tensor flattened row-major (PyTorch `[out, in]` for a Linear weight).
 */
export function quantize4bit(
  data: Float32Array,
  quantType: QuantType,
  blocksize = 64,
): {
  /** Two codes per byte, the FIRST element in the HIGH nibble; length ⌈n/2⌉ (bnb shape `[(n+1)//2, 1]`). */
  readonly packed: Uint8Array;
  /** float32 absmax of each block of `blocksize` elements (the last block may be partial). */
  readonly absmax: Float32Array;
} {
  checkBlocksize(blocksize);
  const n = data.length;
  const { bounds, order } = BOUNDS[quantType];
  const blocks = blockCount(n, blocksize);
  const full = Math.floor(n / blocksize);
  const absmax = new Float32Array(blocks);
  const codes = new Uint8Array(n + (n % 2));
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize;
    const end = Math.min(n, start + blocksize);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(data[i] as number));
    const partial = b >= full;
    const scale = Math.max(m, MIN_SCALE);
    absmax[b] = partial ? scale : m;
    const inverse = f32(1 / f32(scale));
    for (let i = start; i < end; i++) {
      const x = data[i] as number;
      let s = partial ? f32(x / scale) : f32(x * inverse);
      s = s < -1 ? -1 : s > 1 ? 1 : s;
      let q = 0;
      while (q < 15 && (bounds[q] as number) < s) q++;
      codes[i] = order[q] as number;
    }
  }
  if (n % 2 === 1) {
    let q = 0;
    while (q < 15 && (bounds[q] as number) < 0) q++;
    codes[n] = order[q] as number;
  }
  const packed = new Uint8Array(codes.length / 2);
  for (let i = 0; i < packed.length; i++) packed[i] = ((codes[2 * i] as number) << 4) | (codes[2 * i + 1] as number);
  return { packed, absmax };
}

/**
 * Dequantizes packed 4-bit codes: code[nibble]·absmax[block] in float32, as bitsandbytes'
 * `dequantize_4bit` (CPU). `n` is the element count (the packed data may hold one padding code).
 */
export function dequantize4bit(packed: Uint8Array, absmax: Float32Array, quantType: QuantType, blocksize: number, n: number): Float32Array {
  checkBlocksize(blocksize);
  if (packed.length !== Math.ceil(n / 2)) {
    throw new InvalidArgumentError({
      argument: 'packed',
      message: `expected ${Math.ceil(n / 2)} bytes for ${n} elements, found ${packed.length}.`,
    });
  }
  if (absmax.length !== blockCount(n, blocksize)) {
    throw new InvalidArgumentError({
      argument: 'absmax',
      message: `expected ${blockCount(n, blocksize)} blocks of ${blocksize} for ${n} elements, found ${absmax.length}.`,
    });
  }
  const code = codeOf(quantType);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const byte = packed[i >> 1] as number;
    const nibble = i % 2 === 0 ? byte >> 4 : byte & 15;
    out[i] = f32((code[nibble] as number) * (absmax[Math.floor(i / blocksize)] as number));
  }
  return out;
}

const midpointCache = new WeakMap<Float32Array, Float32Array>();

/** float32 midpoints 0.5·(c[i] + c[i+1]) of a sorted code: the bucket bounds of both roundings. */
function midpointsOf(code: Float32Array): Float32Array {
  let mid = midpointCache.get(code);
  if (mid === undefined) {
    mid = new Float32Array(code.length - 1);
    for (let i = 0; i + 1 < code.length; i++) mid[i] = f32(0.5 * f32((code[i] as number) + (code[i + 1] as number)));
    midpointCache.set(code, mid);
  }
  return mid;
}

/** Number of bins of bitsandbytes' CPU 8-bit quantization lookup table over [-1, 1]. */
const LUT_SIZE = 65536;

const lutCache = new WeakMap<Float32Array, Uint8Array>();

/**
 * bitsandbytes' CPU 8-bit lookup table (0.50, `build_quantize_lut` in csrc/cpu_ops.cpp): bin i at
 * v = 2i/65535 − 1 in float32, lut[i] = the number of midpoints strictly below v (a value on a
 * midpoint goes to the lower code).
 */
function lutOf(code: Float32Array): Uint8Array {
  let lut = lutCache.get(code);
  if (lut === undefined) {
    const mid = midpointsOf(code);
    lut = new Uint8Array(LUT_SIZE);
    let q = 0;
    for (let i = 0; i < LUT_SIZE; i++) {
      const v = f32(f32((2 * i) / (LUT_SIZE - 1)) - 1);
      while (q < mid.length && (mid[q] as number) < v) q++;
      lut[i] = q;
    }
    lutCache.set(code, lut);
  }
  return lut;
}

/**
 * The table bin of a scaled value as bnb's x86-64 build computes it: clamp to [-1, 1], then
 * trunc(fma((v + 1)·0.5, 65535, 0.5)) — GCC contracts the last multiply-add into one FMA (one
 * rounding). (v+1)·0.5 is a float32 ≥ 2^-25, so the double product-plus-half is exact and
 * `Math.fround` of it is the FMA's single rounding.
 */
function lutIndex(v: number): number {
  const c = v < -1 ? -1 : v > 1 ? 1 : v;
  const t = f32(f32(c + 1) * 0.5);
  return Math.trunc(f32(t * (LUT_SIZE - 1) + 0.5));
}

/** The number of bounds strictly below `x` (`torch.bucketize`, right=False: ties go to the lower code). */
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
 * Quantizes `values[start, end)` as block `block` of an 8-bit blockwise tensor, with the `rounding`
 * of {@link quantizeBlockwise8bit} (the one implementation behind it): writes `absmax[block]` and
 * `codes[offset + i]` for i in [start, end), so `values` may be a scratch buffer holding only this
 * block (`@lora/train`'s AdamW8bit requantizes its moments so, through `@lora/quant/internal`).
 */
export function quantizeBlock8bit(
  values: Float32Array,
  start: number,
  end: number,
  code: Float32Array,
  rounding: 'lut' | 'nearest',
  codes: Uint8Array,
  absmax: Float32Array,
  block: number,
  offset = 0,
): void {
  let m = 0;
  for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i] as number));
  absmax[block] = m;
  if (rounding === 'lut') {
    if (m === 0) {
      codes.fill(0, offset + start, offset + end);
      return;
    }
    const lut = lutOf(code);
    const inverse = f32(1 / m);
    for (let i = start; i < end; i++) codes[offset + i] = lut[lutIndex(f32((values[i] as number) * inverse))] as number;
  } else {
    const bounds = midpointsOf(code);
    const inverse = f32(1 / Math.max(m, MIN_SCALE));
    for (let i = start; i < end; i++) {
      const v = f32((values[i] as number) * inverse);
      codes[offset + i] = bucket(bounds, v < -1 ? -1 : v > 1 ? 1 : v);
    }
  }
}

/**
 * 8-bit blockwise quantization with a sorted 256-entry map (a dynamic map such as
 * {@link DYNAMIC_MAP_SIGNED}): absmax = max |x| per block of `blocksize` (the last block may be
 * partial), then each v = x·f32(1/absmax) becomes a code index, chosen as one of two bitsandbytes
 * (0.50) code paths does:
 *
 * - `rounding: 'lut'` (default) — bnb's native CPU kernel (`quantize_blockwise` → `quantize_cpu` in
 *   csrc/cpu_ops.cpp), which `quantize_4bit(compress_statistics=True)` runs on CPU: code =
 *   lut[bin(v)] of a 65536-bin table, so near a midpoint the code may be the farther neighbour and
 *   codes closer than a bin (2/65535) merge; a block whose absmax is 0 gets code 0. Codes and absmax
 *   are byte-identical to bnb's (the double-quant path).
 * - `rounding: 'nearest'` — bnb's pure-PyTorch `quantize_blockwise` (backends/default/ops.py):
 *   `torch.bucketize` on the float32 code midpoints (the nearest code, ties to the lower), the scale
 *   clamped at 1e-38, and x·(1/absmax) on a partial last block too (bnb's reference divides there).
 *   The 8-bit AdamW states follow it: tools/parity/train/make_train_fixtures.py swaps this quantizer
 *   into bnb's CPU 8-bit optimizer update, whose `'lut'` kernel cannot resolve the second moment's
 *   small codes.
 */
export function quantizeBlockwise8bit(
  data: Float32Array,
  code: Float32Array,
  blocksize: number,
  options: { rounding?: 'lut' | 'nearest' } = {},
): { codes: Uint8Array; absmax: Float32Array } {
  if (code.length !== 256)
    throw new InvalidArgumentError({ argument: 'code', message: `expected a 256-entry map, found ${code.length} entries.` });
  if (!Number.isInteger(blocksize) || blocksize < 1)
    throw new InvalidArgumentError({ argument: 'blocksize', message: `expected a positive integer, found ${blocksize}.` });
  const rounding = options.rounding ?? 'lut';
  if (rounding !== 'lut' && rounding !== 'nearest')
    throw new InvalidArgumentError({ argument: 'rounding', message: `expected 'lut' or 'nearest', found ${String(rounding)}.` });
  const n = data.length;
  const absmax = new Float32Array(blockCount(n, blocksize));
  const codes = new Uint8Array(n);
  for (let b = 0, start = 0; start < n; b++, start += blocksize)
    quantizeBlock8bit(data, start, Math.min(n, start + blocksize), code, rounding, codes, absmax, b);
  return { codes, absmax };
}

/** code[q]·absmax[block] in float32 (bitsandbytes' `dequantize_blockwise`); the inverse of {@link quantizeBlockwise8bit}. */
export function dequantizeBlockwise8bit(codes: Uint8Array, absmax: Float32Array, code: Float32Array, blocksize: number): Float32Array {
  const out = new Float32Array(codes.length);
  for (let i = 0; i < codes.length; i++) out[i] = f32((code[codes[i] as number] as number) * (absmax[Math.floor(i / blocksize)] as number));
  return out;
}

/**
 * Double quantization of absmax as bitsandbytes' `quantize_4bit(compress_statistics=True)`:
 * offset = float32 mean (torch's summation order), then (absmax − offset) quantized blockwise
 * (256) with the signed dynamic map.
 */
export function compressAbsmax(absmax: Float32Array): NestedAbsmax {
  const offset = torchFloat32Mean(absmax);
  const centered = absmax.map((a) => f32(a - offset));
  const { codes, absmax: nestedAbsmax } = quantizeBlockwise8bit(centered, DYNAMIC_MAP_SIGNED, NESTED_BLOCKSIZE);
  return { absmax: codes, nestedAbsmax, offset };
}

/** Inverse of {@link compressAbsmax}: dynamic code · nested absmax + offset, in float32 (bnb order). */
export function decompressAbsmax(
  nested: NestedAbsmax,
  nestedQuantMap: Float32Array = DYNAMIC_MAP_SIGNED,
  nestedBlocksize = NESTED_BLOCKSIZE,
): Float32Array {
  return dequantizeBlockwise8bit(nested.absmax, nested.nestedAbsmax, nestedQuantMap, nestedBlocksize).map((v) => f32(v + nested.offset));
}
