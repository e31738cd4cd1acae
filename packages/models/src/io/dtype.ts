import { FileFormatError, InvalidArgumentError } from '@lora/core';
import type { HostTensor } from './host-tensor.js';

/**
 * Every dtype name the safetensors format defines, in the order of the Rust crate's `Dtype` enum
 * (increasing alignment). The writer sorts tensors by this order, descending, as the Rust
 * serializer does.
 */
export const SAFETENSORS_DTYPES = [
  'BOOL',
  'F4',
  'F6_E2M3',
  'F6_E3M2',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'F8_E8M0',
  'F8_E4M3FNUZ',
  'F8_E5M2FNUZ',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'C64',
  'F64',
  'I64',
  'U64',
] as const;

/** A safetensors dtype name such as `"BF16"`. */
export type SafetensorsDtype = (typeof SAFETENSORS_DTYPES)[number];

/** The dtypes {@link decodeTensor} turns into a {@link HostTensor}; the others are raw-only. */
export const DECODABLE_DTYPES: readonly SafetensorsDtype[] = [
  'F64',
  'F32',
  'F16',
  'BF16',
  'F8_E4M3',
  'F8_E5M2',
  'I64',
  'I32',
  'I16',
  'I8',
  'U64',
  'U32',
  'U16',
  'U8',
  'BOOL',
];

const BITS: Record<SafetensorsDtype, number> = {
  BOOL: 8,
  F4: 4,
  F6_E2M3: 6,
  F6_E3M2: 6,
  U8: 8,
  I8: 8,
  F8_E5M2: 8,
  F8_E4M3: 8,
  F8_E8M0: 8,
  F8_E4M3FNUZ: 8,
  F8_E5M2FNUZ: 8,
  I16: 16,
  U16: 16,
  F16: 16,
  BF16: 16,
  I32: 32,
  U32: 32,
  F32: 32,
  C64: 64,
  F64: 64,
  I64: 64,
  U64: 64,
};

/** Size of one element in bits (4 and 6 for the sub-byte float formats). */
export function dtypeBits(dtype: SafetensorsDtype): number {
  return BITS[dtype];
}

/** Position of `dtype` in {@link SAFETENSORS_DTYPES} (the Rust enum's ordering). */
export function dtypeRank(dtype: SafetensorsDtype): number {
  return SAFETENSORS_DTYPES.indexOf(dtype);
}

/** Number of elements of a shape (1 for a scalar `[]`). */
export function numElements(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * A tensor's bytes exactly as stored (little-endian, row-major), with its safetensors dtype.
 * Decoding and encoding view these through typed arrays, so they assume a little-endian host
 * (every platform tfjs runs on).
 */
export interface RawTensor {
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

/** File and tensor names for error messages. */
export interface TensorLocation {
  readonly file: string;
  readonly tensor: string;
}

/** Copies bytes into a fresh, aligned buffer so typed-array views of any width are legal. */
function aligned(bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer;
}

/** Float32 bit pattern of an IEEE half (exact; NaNs keep their payload and become quiet, as in torch). */
export function float16BitsToFloat32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant === 0 ? 0 : 0x400000 | (mant << 13))) >>> 0;
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  if (mant === 0) return sign >>> 0;
  // Subnormal half: normalise into a float32 normal.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e -= 1;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/**
 * IEEE half bit pattern of a float32 bit pattern, rounding to nearest even (as torch's
 * `.to(torch.float16)`); overflow gives ±inf, NaN stays NaN with the sign kept (x86 F16C).
 */
export function float32BitsToFloat16Bits(f: number): number {
  const sign = (f >>> 16) & 0x8000;
  const abs = f & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00 | ((abs >>> 13) & 0x3ff);
  if (abs >= 0x477ff000) return sign | 0x7c00; // ≥ 65520 rounds to inf
  if (abs >= 0x38800000) {
    // Normal half: rebias the exponent, keep 10 mantissa bits, round the 13 dropped ones.
    const h = (abs - 0x38000000) >>> 13;
    const rest = abs & 0x1fff;
    return sign | (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1) ? h + 1 : h);
  }
  // Subnormal half (units of 2^-24); a carry into 0x400 is the smallest normal, as it should be.
  const shift = 126 - (abs >>> 23);
  if (shift > 24) return sign;
  const mant = (abs & 0x7fffff) | 0x800000;
  const h = mant >>> shift;
  const rest = mant & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return sign | (rest > half || (rest === half && (h & 1) === 1) ? h + 1 : h);
}

/**
 * bfloat16 bit pattern of a float32 bit pattern, rounding to nearest even. Every NaN becomes
 * 0xFFFF, which is what torch's vectorized CPU conversion writes.
 */
export function float32BitsToBFloat16Bits(f: number): number {
  if ((f & 0x7fffffff) > 0x7f800000) return 0xffff;
  return ((f >>> 0) + 0x7fff + ((f >>> 16) & 1)) >>> 16;
}

let e4m3Table: Uint32Array | undefined;
let e5m2Table: Uint32Array | undefined;

/** float32 bits of the 256 float8 e4m3fn codes (bias 7, no infinities, NaN = S.1111.111). */
function e4m3Bits(): Uint32Array {
  if (e4m3Table !== undefined) return e4m3Table;
  const bits = new Uint32Array(256);
  const value = new Float32Array(bits.buffer);
  for (let code = 0; code < 256; code++) {
    const sign = code & 0x80 ? -1 : 1;
    const exp = (code >> 3) & 0xf;
    const mant = code & 7;
    // NaN: torch widens it with the payload in the top mantissa bits (0x7FF00000).
    if (exp === 0xf && mant === 7) bits[code] = (((code & 0x80) << 24) | 0x7ff00000) >>> 0;
    else value[code] = sign * (exp === 0 ? mant * 2 ** -9 : (1 + mant / 8) * 2 ** (exp - 7));
  }
  e4m3Table = bits;
  return bits;
}

/** float32 bits of the 256 float8 e5m2 codes (the high byte of an IEEE half). */
function e5m2Bits(): Uint32Array {
  e5m2Table ??= Uint32Array.from({ length: 256 }, (_, code) => float16BitsToFloat32Bits(code << 8));
  return e5m2Table;
}

function decodeFloat(raw: RawTensor, n: number): Float32Array {
  const out = new Float32Array(n);
  const outBits = new Uint32Array(out.buffer);
  const { dtype, bytes } = raw;
  if (dtype === 'F32') return new Float32Array(aligned(bytes));
  if (dtype === 'BF16') {
    const src = new Uint16Array(aligned(bytes));
    for (let i = 0; i < n; i++) outBits[i] = ((src[i] as number) << 16) >>> 0;
  } else if (dtype === 'F16') {
    const src = new Uint16Array(aligned(bytes));
    for (let i = 0; i < n; i++) outBits[i] = float16BitsToFloat32Bits(src[i] as number);
  } else if (dtype === 'F64') {
    // Assigning into a Float32Array rounds to nearest even, as numpy's astype(float32) does.
    const src = new Float64Array(aligned(bytes));
    const words = new Uint32Array(src.buffer);
    for (let i = 0; i < n; i++) {
      const v = src[i] as number;
      if (!Number.isNaN(v)) out[i] = v;
      else {
        // NaN: keep the sign and top payload bits, set the quiet bit (x86 cvtsd2ss, as numpy).
        const lo = words[2 * i] as number;
        const hi = words[2 * i + 1] as number;
        outBits[i] = ((hi & 0x80000000) | 0x7fc00000 | ((hi & 0xfffff) << 3) | (lo >>> 29)) >>> 0;
      }
    }
  } else {
    const table = dtype === 'F8_E4M3' ? e4m3Bits() : e5m2Bits();
    for (let i = 0; i < n; i++) outBits[i] = table[bytes[i] as number] as number;
  }
  return out;
}

function overflow(where: TensorLocation, dtype: SafetensorsDtype, value: bigint, index: number): FileFormatError {
  return new FileFormatError({
    file: where.file,
    field: where.tensor,
    message:
      `${dtype} value ${value} at flat index ${index} does not fit int32 (tfjs has no 64-bit or unsigned 32-bit ` +
      'integers); read the bytes with getRaw() instead',
  });
}

function decodeInt(raw: RawTensor, n: number, where: TensorLocation): Int32Array {
  const buffer = aligned(raw.bytes);
  switch (raw.dtype) {
    case 'I32':
      return new Int32Array(buffer);
    case 'I16':
      return Int32Array.from(new Int16Array(buffer));
    case 'U16':
      return Int32Array.from(new Uint16Array(buffer));
    case 'I8':
      return Int32Array.from(new Int8Array(buffer));
    case 'U8':
      return Int32Array.from(new Uint8Array(buffer));
    case 'U32': {
      const src = new Uint32Array(buffer);
      const bad = src.findIndex((v) => v > 0x7fffffff);
      if (bad >= 0) throw overflow(where, 'U32', BigInt(src[bad] as number), bad);
      return new Int32Array(buffer);
    }
    default: {
      // I64 / U64: the high word must be the sign extension of the low one (0 for U64).
      const words = new Int32Array(buffer);
      const out = new Int32Array(n);
      const signed = raw.dtype === 'I64';
      for (let i = 0; i < n; i++) {
        const lo = words[2 * i] as number;
        const hi = words[2 * i + 1] as number;
        if (hi !== (signed ? lo >> 31 : 0) || (!signed && lo < 0)) {
          const view = new DataView(buffer, 8 * i, 8);
          throw overflow(where, raw.dtype, signed ? view.getBigInt64(0, true) : view.getBigUint64(0, true), i);
        }
        out[i] = lo;
      }
      return out;
    }
  }
}

/**
 * Decodes stored bytes into a {@link HostTensor} with a tfjs dtype: every float format becomes
 * float32 exactly (F64 rounds to nearest even, as numpy's `astype(float32)`), integers become
 * int32 (a FileFormatError naming file and tensor if an I64/U32/U64 value does not fit), BOOL
 * becomes bool (0/1 bytes). Other dtypes (F4, F6, F8_E8M0, FNUZ, C64) throw: use the raw bytes.
 */
export function decodeTensor(raw: RawTensor, where: TensorLocation): HostTensor {
  const n = numElements(raw.shape);
  const shape = [...raw.shape];
  switch (raw.dtype) {
    case 'F32':
    case 'F16':
    case 'BF16':
    case 'F64':
    case 'F8_E4M3':
    case 'F8_E5M2':
      return { dtype: 'float32', shape, data: decodeFloat(raw, n) };
    case 'I64':
    case 'I32':
    case 'I16':
    case 'I8':
    case 'U64':
    case 'U32':
    case 'U16':
    case 'U8':
      return { dtype: 'int32', shape, data: decodeInt(raw, n, where) };
    case 'BOOL':
      return { dtype: 'bool', shape, data: raw.bytes.map((b) => (b === 0 ? 0 : 1)) };
    default:
      throw new FileFormatError({
        file: where.file,
        field: where.tensor,
        message:
          `dtype ${raw.dtype} cannot be decoded (supported: ${DECODABLE_DTYPES.join(', ')}); ` + 'read the bytes with getRaw() instead',
      });
  }
}

/** Host data the writer can encode: float32 for float dtypes, int32/uint8 for integers and BOOL. */
export type EncodableData = Float32Array | Float64Array | Int32Array | Uint8Array;

const INT_RANGE: Partial<Record<SafetensorsDtype, readonly [number, number]>> = {
  I8: [-128, 127],
  U8: [0, 255],
  I16: [-32768, 32767],
  U16: [0, 65535],
  BOOL: [0, 1],
  I32: [-2147483648, 2147483647],
  U32: [0, 2147483647],
  I64: [-2147483648, 2147483647],
  U64: [0, 2147483647],
};

function encodeInt(dtype: SafetensorsDtype, data: Int32Array | Uint8Array, tensor: string): Uint8Array {
  const [min, max] = INT_RANGE[dtype] as readonly [number, number];
  const bad = data.findIndex((v) => v < min || v > max);
  if (bad >= 0) {
    throw new InvalidArgumentError({
      argument: `tensors["${tensor}"].data`,
      message: `value ${data[bad]} at flat index ${bad} is out of range for ${dtype} [${min}, ${max}]`,
    });
  }
  const n = data.length;
  const bytes = n * (BITS[dtype] / 8);
  const out = new Uint8Array(bytes);
  switch (dtype) {
    case 'I8':
    case 'U8':
    case 'BOOL':
      out.set(data);
      break;
    case 'I16':
    case 'U16':
      new Int16Array(out.buffer).set(data);
      break;
    case 'I32':
    case 'U32':
      new Int32Array(out.buffer).set(data);
      break;
    default: {
      const words = new Int32Array(out.buffer);
      for (let i = 0; i < n; i++) {
        const v = data[i] as number;
        words[2 * i] = v;
        words[2 * i + 1] = v < 0 ? -1 : 0;
      }
    }
  }
  return out;
}

function encodeFloat(dtype: SafetensorsDtype, data: Float32Array | Float64Array): Uint8Array {
  if (data instanceof Float64Array) {
    return new Uint8Array((dtype === 'F64' ? data.slice() : Float32Array.from(data)).buffer);
  }
  if (dtype === 'F32') return new Uint8Array(data.slice().buffer);
  if (dtype === 'F64') return new Uint8Array(Float64Array.from(data).buffer);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  const out = new Uint16Array(data.length);
  const convert = dtype === 'F16' ? float32BitsToFloat16Bits : float32BitsToBFloat16Bits;
  for (let i = 0; i < data.length; i++) out[i] = convert(bits[i] as number);
  return new Uint8Array(out.buffer);
}

/**
 * Encodes host data as little-endian bytes of `dtype`: float32 → F32/F16/BF16/F64 (round to
 * nearest even, as torch), float64 → F64 (or F32, rounded), int32/uint8 → any integer dtype or
 * BOOL (range-checked). Throws `InvalidArgumentError` naming the tensor for any other pairing.
 */
export function encodeTensor(dtype: SafetensorsDtype, data: EncodableData, tensor: string): Uint8Array {
  const isFloatData = data instanceof Float32Array || data instanceof Float64Array;
  if (isFloatData && (dtype === 'F32' || dtype === 'F64' || dtype === 'F16' || dtype === 'BF16')) {
    if (data instanceof Float64Array && (dtype === 'F16' || dtype === 'BF16')) {
      throw new InvalidArgumentError({
        argument: `tensors["${tensor}"].data`,
        message: `float64 data cannot be written as ${dtype} (double rounding); pass a Float32Array`,
      });
    }
    return encodeFloat(dtype, data);
  }
  if (!isFloatData && INT_RANGE[dtype] !== undefined) return encodeInt(dtype, data, tensor);
  throw new InvalidArgumentError({
    argument: `tensors["${tensor}"].data`,
    message:
      `cannot encode ${data.constructor.name} as ${dtype}: floats go to F32/F16/BF16/F64, Int32Array/Uint8Array ` +
      'to integer dtypes and BOOL; pass { dtype, shape, bytes } to write any dtype from raw bytes',
  });
}
