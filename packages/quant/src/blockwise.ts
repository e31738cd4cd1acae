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

/** Packed 4-bit codes and per-block scales, as bitsandbytes' `quantize_4bit` returns them. */
export interface Quantized4bit {
  /** Two codes per byte, the FIRST element in the HIGH nibble; length ⌈n/2⌉ (bnb shape `[(n+1)//2, 1]`). */
  readonly packed: Uint8Array;
  /** float32 absmax of each block of `blocksize` elements (the last block may be partial). */
  readonly absmax: Float32Array;
}

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
export function quantize4bit(data: Float32Array, quantType: QuantType, blocksize = 64): Quantized4bit {
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
    throw new InvalidArgumentError({ argument: 'packed', message: `expected ${Math.ceil(n / 2)} bytes for ${n} elements, found ${packed.length}.` });
  }
  if (absmax.length !== blockCount(n, blocksize)) {
    throw new InvalidArgumentError({ argument: 'absmax', message: `expected ${blockCount(n, blocksize)} blocks of ${blocksize} for ${n} elements, found ${absmax.length}.` });
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

/** The next float32 above a positive float32 `h`. */
function nextUp(h: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, h);
  view.setUint32(0, view.getUint32(0) + 1);
  return view.getFloat32(0);
}

/**
 * The "Direct2" bucketed search bitsandbytes' CPU `quantize_blockwise` uses (its bundled BinSearch
 * library, Gap 2): a float32 scaler H makes `trunc(H·(z − x0))` index a bucket table, then two
 * comparisons pick the left neighbour. It is NOT always the true left neighbour where the map is
 * dense (near 0), and bnb only compares that index with the next one — reproduced exactly here so
 * the 8-bit codes match.
 */
class Direct2Search {
  private readonly xi: Float32Array;
  private readonly buckets: Uint32Array;
  private readonly h: number;
  private readonly x0: number;

  constructor(x: Float32Array) {
    const n = x.length;
    const x0 = x[0] as number;
    const gap = 2;
    let deltaMin = f32((x[n - 1] as number) - x0);
    for (let i = gap; i < n; i++) {
      const d = f32(f32((x[i] as number) - x0) - f32((x[i - gap] as number) - x0));
      if (d < deltaMin) deltaMin = d;
    }
    let h = f32(1 / deltaMin);
    const index = (hh: number, z: number): number => Math.trunc(f32(hh * f32(z - x0)));
    let step = f32(nextUp(h) - h);
    let checkedFrom = n;
    let modified: boolean;
    do {
      let last = checkedFrom - 1;
      modified = false;
      for (let i = gap; i <= last; i++) {
        while (index(h, x[i - gap] as number) === index(h, x[i] as number)) {
          checkedFrom = i;
          last = n - 1;
          modified = true;
          h = f32(h + step);
          step = f32(step * 2);
        }
      }
    } while (modified);
    this.h = h;
    this.x0 = x0;
    // Padded copy: xi[0] = x0, xi[k] = x[k-1].
    const xi = new Float32Array(n + 1);
    xi[0] = x0;
    xi.set(x, 1);
    this.xi = xi;
    const nb = 1 + index(h, x[n - 1] as number);
    const buckets = new Uint32Array(nb);
    for (let i = n, b = nb - 1, j = 0; ; --i) {
      const idx = index(h, xi[i] as number);
      while (b > idx) buckets[b--] = j;
      if (b === idx) {
        j = i - 1;
        buckets[b] = j;
        if (b-- === 0) break;
      }
    }
    this.buckets = buckets;
  }

  /** bnb's `bin_searcher->scalar(z)`. */
  scalar(z: number): number {
    const bidx = Math.trunc(f32(this.h * f32(z - this.x0)));
    let iidx = this.buckets[bidx] as number;
    const p = iidx;
    if (z < (this.xi[p] as number)) iidx--;
    if (z < (this.xi[p + 1] as number)) iidx--;
    return iidx;
  }
}

const searchers = new WeakMap<Float32Array, Direct2Search>();

/**
 * bnb builds the search over the map with code[0] = -1 (the dynamic map starts at -0.993), while
 * the distance check sees the original code[0] (measured against bnb 0.50.2).
 */
function searcherFor(code: Float32Array): Direct2Search {
  let s = searchers.get(code);
  if (s === undefined) {
    const patched = code.slice();
    patched[0] = -1;
    s = new Direct2Search(patched);
    searchers.set(code, s);
  }
  return s;
}

/** bnb CPU `quantize_block`: the searcher's index, moved right if the next code is strictly closer. */
function nearestCode(code: Float32Array, x: number): number {
  let idx = searcherFor(code).scalar(x);
  if (idx < 255) {
    const left = Math.abs(f32(x - (code[idx] as number)));
    const right = Math.abs(f32(x - (code[idx + 1] as number)));
    if (right < left) idx += 1;
  }
  return idx;
}

/**
 * 8-bit blockwise quantization with a sorted 256-entry map, byte-identical to bitsandbytes' CPU
 * `quantize_blockwise` (absmax = max |x| per block, x/absmax, nearest code, ties to the lower).
 */
export function quantizeBlockwise8bit(data: Float32Array, code: Float32Array, blocksize: number): { codes: Uint8Array; absmax: Float32Array } {
  const n = data.length;
  const blocks = blockCount(n, blocksize);
  const absmax = new Float32Array(blocks);
  const codes = new Uint8Array(n);
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize;
    const end = Math.min(n, start + blocksize);
    let m = -Number.MAX_VALUE;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(data[i] as number));
    absmax[b] = m;
    for (let i = start; i < end; i++) codes[i] = nearestCode(code, f32((data[i] as number) / (absmax[b] as number)));
  }
  return { codes, absmax };
}

/** code[q]·absmax[block] in float32 (bitsandbytes' `dequantize_blockwise`). */
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
export function decompressAbsmax(nested: NestedAbsmax, nestedQuantMap: Float32Array = DYNAMIC_MAP_SIGNED, nestedBlocksize = NESTED_BLOCKSIZE): Float32Array {
  return dequantizeBlockwise8bit(nested.absmax, nested.nestedAbsmax, nestedQuantMap, nestedBlocksize).map((v) => f32(v + nested.offset));
}
