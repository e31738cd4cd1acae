import { FileFormatError } from '@lora/core';
import { GgmlType, ggmlTypeInfo } from '@lora/core/internal';
import { float16BitsToFloat32Bits } from '../dtype.js';

// Block layouts and the order of float32 roundings follow llama.cpp's gguf-py
// (`gguf/quants.py`, `dequantize_blocks` per type), which computes in numpy float32: every product
// and sum is rounded to float32 in turn. JS computes in float64, so each intermediate that numpy
// rounds is rounded here with `Math.fround` (a product of a float32 by a small integer is exact in
// float64; a sum of two float32 rounded once to float32 is correctly rounded), which makes the
// results bit-identical. Plain loops over typed arrays, no per-element allocation.

let f16Table: Float32Array | undefined;

/** float32 value of every IEEE half bit pattern (256 KiB, built once). */
function halfTable(): Float32Array {
  if (f16Table === undefined) {
    const bits = new Uint32Array(65536);
    for (let h = 0; h < 65536; h++) bits[h] = float16BitsToFloat32Bits(h);
    f16Table = new Float32Array(bits.buffer);
  }
  return f16Table;
}

/** ggml types {@link dequantizeGgml} decodes. */
export const DEQUANTIZABLE_GGML_TYPES: readonly string[] = [
  'F32',
  'F16',
  'BF16',
  'Q8_0',
  'Q4_0',
  'Q4_1',
  'Q5_0',
  'Q5_1',
  'Q4_K',
  'Q5_K',
  'Q6_K',
];

/**
 * Decodes `count` elements of ggml type `type` (a GGUF tensor's stored bytes) to float32, bit for
 * bit as gguf-py's `gguf.quants.dequantize` does. Supports F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0,
 * Q5_1, Q4_K, Q5_K and Q6_K.
 *
 * @param where - file and tensor named in errors.
 * @throws `FileFormatError` naming the file, tensor and type for another type, or when `bytes`
 *   does not hold exactly `count` elements.
 * @example
 * ```ts
 * const values = dequantizeGgml(bytes, GgmlType.Q4_1, 576 * 1536, { file: 'model.gguf', tensor: 'blk.0.ffn_up.weight' });
 * ```
 */
export function dequantizeGgml(
  bytes: Uint8Array,
  type: number,
  count: number,
  where: { readonly file: string; readonly tensor: string },
): Float32Array {
  const info = ggmlTypeInfo(type);
  const typeName = info?.name ?? `type ${type}`;
  if (info === undefined || !DEQUANTIZABLE_GGML_TYPES.includes(info.name)) {
    throw new FileFormatError({
      file: where.file,
      field: where.tensor,
      message: `ggml block type ${typeName} (id ${type}) cannot be dequantized; supported: ${DEQUANTIZABLE_GGML_TYPES.join(', ')}`,
    });
  }
  const expected = (count / info.blockSize) * info.typeSize;
  if (!Number.isInteger(count / info.blockSize) || bytes.byteLength !== expected) {
    throw new FileFormatError({
      file: where.file,
      field: where.tensor,
      message: `${count} ${typeName} elements need ${expected} bytes, found ${bytes.byteLength}`,
    });
  }
  const out = new Float32Array(count);
  const nBlocks = count / info.blockSize;
  switch (type) {
    case GgmlType.F32:
      out.set(new Float32Array(bytes.slice().buffer));
      break;
    case GgmlType.F16: {
      const t = halfTable();
      for (let i = 0; i < count; i++) out[i] = t[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
      break;
    }
    case GgmlType.BF16: {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = ((bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16) >>> 0;
      break;
    }
    case GgmlType.Q8_0:
      q8_0(bytes, out, nBlocks);
      break;
    case GgmlType.Q4_0:
      q4_0(bytes, out, nBlocks);
      break;
    case GgmlType.Q4_1:
      q4_1(bytes, out, nBlocks);
      break;
    case GgmlType.Q5_0:
      q5_0(bytes, out, nBlocks);
      break;
    case GgmlType.Q5_1:
      q5_1(bytes, out, nBlocks);
      break;
    case GgmlType.Q4_K:
      q4_k(bytes, out, nBlocks);
      break;
    case GgmlType.Q5_K:
      q5_k(bytes, out, nBlocks);
      break;
    case GgmlType.Q6_K:
      q6_k(bytes, out, nBlocks);
      break;
  }
  return out;
}

/** Q8_0: f16 d, 32 × int8 q; w = q·d. */
function q8_0(b: Uint8Array, out: Float32Array, n: number): void {
  const t = halfTable();
  for (let blk = 0, o = 0, e = 0; blk < n; blk++, o += 34, e += 32) {
    const d = t[b[o]! | (b[o + 1]! << 8)]!;
    for (let j = 0; j < 32; j++) out[e + j] = ((b[o + 2 + j]! << 24) >> 24) * d;
  }
}

/** Q4_0: f16 d, 16 bytes of nibbles (low = elements 0–15, high = 16–31); w = d·(q − 8). */
function q4_0(b: Uint8Array, out: Float32Array, n: number): void {
  const t = halfTable();
  for (let blk = 0, o = 0, e = 0; blk < n; blk++, o += 18, e += 32) {
    const d = t[b[o]! | (b[o + 1]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j]!;
      out[e + j] = d * ((q & 15) - 8);
      out[e + j + 16] = d * ((q >> 4) - 8);
    }
  }
}

/** Q4_1: f16 d, f16 m, 16 bytes of nibbles; w = d·q + m. */
function q4_1(b: Uint8Array, out: Float32Array, n: number): void {
  const t = halfTable();
  const f = Math.fround;
  for (let blk = 0, o = 0, e = 0; blk < n; blk++, o += 20, e += 32) {
    const d = t[b[o]! | (b[o + 1]! << 8)]!;
    const m = t[b[o + 2]! | (b[o + 3]! << 8)]!;
    for (let j = 0; j < 16; j++) {
      const q = b[o + 4 + j]!;
      out[e + j] = f(d * (q & 15)) + m;
      out[e + j + 16] = f(d * (q >> 4)) + m;
    }
  }
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Q5_0: f16 d, u32 of 5th bits, 16 bytes of nibbles; w = d·(q − 16). */
function q5_0(b: Uint8Array, out: Float32Array, n: number): void {
  const t = halfTable();
  for (let blk = 0, o = 0, e = 0; blk < n; blk++, o += 22, e += 32) {
    const d = t[b[o]! | (b[o + 1]! << 8)]!;
    const qh = u32(b, o + 2);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 6 + j]!;
      out[e + j] = d * (((q & 15) | (((qh >>> j) & 1) << 4)) - 16);
      out[e + j + 16] = d * (((q >> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16);
    }
  }
}

/** Q5_1: f16 d, f16 m, u32 of 5th bits, 16 bytes of nibbles; w = d·q + m. */
function q5_1(b: Uint8Array, out: Float32Array, n: number): void {
  const t = halfTable();
  const f = Math.fround;
  for (let blk = 0, o = 0, e = 0; blk < n; blk++, o += 24, e += 32) {
    const d = t[b[o]! | (b[o + 1]! << 8)]!;
    const m = t[b[o + 2]! | (b[o + 3]! << 8)]!;
    const qh = u32(b, o + 4);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 8 + j]!;
      out[e + j] = f(d * ((q & 15) | (((qh >>> j) & 1) << 4))) + m;
      out[e + j + 16] = f(d * ((q >> 4) | (((qh >>> (j + 16)) & 1) << 4))) + m;
    }
  }
}

/**
 * The 8 six-bit scales and mins of a Q4_K/Q5_K super-block (12 bytes at `o`), as gguf-py's
 * `Q4_K.get_scale_min`: sub-blocks 0–3 in the low 6 bits of bytes 0–3 / 4–7; sub-blocks 4–7 split
 * between the nibbles of bytes 8–11 and the top 2 bits of bytes 0–3 / 4–7.
 */
function scaleMin(b: Uint8Array, o: number, sc: Uint8Array, mn: Uint8Array): void {
  for (let j = 0; j < 4; j++) {
    sc[j] = b[o + j]! & 63;
    mn[j] = b[o + 4 + j]! & 63;
    sc[j + 4] = (b[o + 8 + j]! & 15) | ((b[o + j]! >> 6) << 4);
    mn[j + 4] = (b[o + 8 + j]! >> 4) | ((b[o + 4 + j]! >> 6) << 4);
  }
}

/** Q4_K: 256 weights = f16 d, f16 dmin, 12 bytes of scales/mins, 128 bytes of nibbles; w = (d·sc)·q − dmin·m. */
function q4_k(b: Uint8Array, out: Float32Array, n: number): void {
  const t = halfTable();
  const f = Math.fround;
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let blk = 0, o = 0, e = 0; blk < n; blk++, o += 144, e += 256) {
    const d = t[b[o]! | (b[o + 1]! << 8)]!;
    const dmin = t[b[o + 2]! | (b[o + 3]! << 8)]!;
    scaleMin(b, o + 4, sc, mn);
    for (let j = 0; j < 8; j++) {
      const dl = f(d * sc[j]!);
      const ml = f(dmin * mn[j]!);
      const qs = o + 16 + 32 * (j >> 1);
      const shift = (j & 1) * 4;
      const base = e + 32 * j;
      for (let l = 0; l < 32; l++) out[base + l] = f(dl * ((b[qs + l]! >> shift) & 15)) - ml;
    }
  }
}

/** Q5_K: as Q4_K plus 32 bytes of 5th bits (bit j of byte l belongs to sub-block j). */
function q5_k(b: Uint8Array, out: Float32Array, n: number): void {
  const t = halfTable();
  const f = Math.fround;
  const sc = new Uint8Array(8);
  const mn = new Uint8Array(8);
  for (let blk = 0, o = 0, e = 0; blk < n; blk++, o += 176, e += 256) {
    const d = t[b[o]! | (b[o + 1]! << 8)]!;
    const dmin = t[b[o + 2]! | (b[o + 3]! << 8)]!;
    scaleMin(b, o + 4, sc, mn);
    const qh = o + 16;
    for (let j = 0; j < 8; j++) {
      const dl = f(d * sc[j]!);
      const ml = f(dmin * mn[j]!);
      const qs = o + 48 + 32 * (j >> 1);
      const shift = (j & 1) * 4;
      const base = e + 32 * j;
      for (let l = 0; l < 32; l++) {
        const q = ((b[qs + l]! >> shift) & 15) | (((b[qh + l]! >> j) & 1) << 4);
        out[base + l] = f(dl * q) - ml;
      }
    }
  }
}

/**
 * Q6_K: 256 weights = 128 bytes of low nibbles, 64 bytes of 2-bit highs, 16 int8 scales, f16 d;
 * w = (d·scale[e/16])·(q − 32).
 */
function q6_k(b: Uint8Array, out: Float32Array, n: number): void {
  const t = halfTable();
  const f = Math.fround;
  const scale = new Float64Array(16);
  for (let blk = 0, o = 0, e = 0; blk < n; blk++, o += 210, e += 256) {
    const d = t[b[o + 208]! | (b[o + 209]! << 8)]!;
    for (let g = 0; g < 16; g++) scale[g] = f(d * ((b[o + 192 + g]! << 24) >> 24));
    for (let i = 0; i < 256; i++) {
      const h = i >> 7;
      const r = i & 127;
      const lo = (b[o + 64 * h + (r & 63)]! >> ((r >> 6) * 4)) & 15;
      const hi = (b[o + 128 + 32 * h + (r & 31)]! >> (2 * (r >> 5))) & 3;
      out[e + i] = scale[i >> 4]! * ((lo | (hi << 4)) - 32);
    }
  }
}
