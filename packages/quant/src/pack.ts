import * as tf from '@tensorflow/tfjs';

/**
 * 4-bit codes on tfjs tensors. `Nf4Linear` keeps its codes (and 8-bit double-quant absmax) in
 * byte planes of int32 words — 4 bytes per word where int32 multiplication wraps and subtraction
 * is exact (tensorflow, wasm, cpu), 3 bytes (< 2^24) on webgpu — see {@link packBytePlanes} and
 * {@link lookupBytePlanes}. The older 6-nibbles-per-word layout (`word = Σ code_j · 16^j`, exact on
 * every backend with float32 floor arithmetic; no bitwiseAnd exists on webgpu and tfjs-node) is
 * kept below for callers of {@link packWords} / {@link unpackCodes}.
 */
export const NIBBLES_PER_WORD = 6;

const POWERS = [1, 16, 256, 4096, 65536, 1048576];

/** Unpacks bnb bytes (high nibble first) into one code per element, `length` codes (zero-padded). */
export function bnbBytesToCodes(packed: Uint8Array, n: number, length = n): Uint8Array {
  const codes = new Uint8Array(length);
  for (let i = 0; i < n; i++) {
    const byte = packed[i >> 1] as number;
    codes[i] = i % 2 === 0 ? byte >> 4 : byte & 15;
  }
  return codes;
}

/** Packs codes (one per element) into bnb bytes, high nibble first, ⌈n/2⌉ bytes. */
export function codesToBnbBytes(codes: Uint8Array, n: number, padCode = 0): Uint8Array {
  const out = new Uint8Array(Math.ceil(n / 2));
  for (let i = 0; i < out.length; i++) {
    const hi = codes[2 * i] as number;
    const lo = 2 * i + 1 < n ? (codes[2 * i + 1] as number) : padCode;
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Packs codes into words of 6 nibbles (the last word zero-padded). */
export function packWords(codes: Uint8Array): Int32Array {
  const words = new Int32Array(Math.ceil(codes.length / NIBBLES_PER_WORD));
  for (let i = 0; i < codes.length; i++) {
    const w = Math.floor(i / NIBBLES_PER_WORD);
    words[w] = (words[w] as number) + (codes[i] as number) * (POWERS[i % NIBBLES_PER_WORD] as number);
  }
  return words;
}

/** Host inverse of {@link packWords}: the first `n` codes. */
export function unpackWords(words: Int32Array, n: number): Uint8Array {
  const codes = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    codes[i] = Math.floor((words[Math.floor(i / NIBBLES_PER_WORD)] as number) / (POWERS[i % NIBBLES_PER_WORD] as number)) % 16;
  }
  return codes;
}

/** 16^-j for j = 0…5, as a `[1, 6]` row: multiplying by a power of two is exact in float32. */
const INVERSE_POWERS = [1, 1 / 16, 1 / 256, 1 / 4096, 1 / 65536, 1 / 1048576];

/**
 * Unpacks an int32 word tensor `[w]` into int32 codes `[w·6]` on the device. Computed in float32,
 * exactly: a word is < 2^24, so `f_j = floor(word · 16^-j)` is an exact integer and nibble j is
 * `f_j − 16·floor(f_j / 16)` — the floorDiv/mod of docs/architecture.md without the int32 kernels, which on
 * wasm broadcast through a slow path (≈20× slower than this here; strided slices are slow too).
 */
export function unpackCodes(words: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const scales = tf.tensor2d(INVERSE_POWERS, [1, NIBBLES_PER_WORD]);
    const floors = tf.floor(tf.mul(tf.cast(words, 'float32').reshape([-1, 1]), scales));
    const nibbles = tf.sub(floors, tf.mul(tf.floor(tf.mul(floors, 1 / 16)), 16));
    return tf.cast(nibbles, 'int32').reshape([-1]) as tf.Tensor1D;
  });
}

/**
 * Bits held per int32 word of the resident layouts: 32 where the backend's int32 `mul` wraps
 * modulo 2^32 and `sub` is exact (tensorflow, wasm, cpu — checked by the tests of nf4-linear.test.ts),
 * 24 elsewhere (webgpu runs int32 arithmetic in float32, so only values < 2^24 survive).
 */
export type WordBits = 24 | 32;

const FULL_WORD_BACKENDS: ReadonlySet<string> = new Set(['tensorflow', 'wasm', 'cpu']);

/** The {@link WordBits} of a backend (default: the current one). */
export function wordBitsOf(backend: string = tf.getBackend()): WordBits {
  return FULL_WORD_BACKENDS.has(backend) ? 32 : 24;
}

/**
 * Plane order of {@link splitBytePlanes} for 32-bit words: plane q holds byte `PLANES_32[q]` of every
 * word (low byte of the low half, low byte of the high half, then the two high bytes).
 */
const PLANES_32 = [0, 2, 1, 3] as const;
/** Plane order for 24-bit words: bytes 0, 1, 2. */
const PLANES_24 = [0, 1, 2] as const;

function planesOf(bits: WordBits): readonly number[] {
  return bits === 32 ? PLANES_32 : PLANES_24;
}

/**
 * Packs bytes into int32 words, 4 per word (`bits` 32) or 3 (`bits` 24), in byte planes: with `w`
 * words, byte `q·w + k` of the input is byte `planes[q]` of word `k` — the order in which
 * {@link splitBytePlanes} gives them back, so its output needs no interleaving (a `concat`, where an
 * interleaving `stack` costs 4× more on wasm). Missing bytes are zero. A 32-bit word stores its
 * 16-bit halves minus 2^15 each (`word = (hi − 2^15)·2^16 + (lo − 2^15)` modulo 2^32), so both
 * halves come back as signed 16-bit numbers that float32 holds exactly.
 */
export function packBytePlanes(bytes: Uint8Array, bits: WordBits): Int32Array {
  const per = bits / 8;
  const planes = planesOf(bits);
  const w = Math.ceil(bytes.length / per);
  const split = new Uint8Array(w * per);
  for (let p = 0; p < bytes.length; p++) split[per * (p % w) + (planes[Math.floor(p / w)] as number)] = bytes[p] as number;
  const words = new Int32Array(w);
  for (let k = 0; k < w; k++) {
    const b = (j: number) => split[per * k + j] as number;
    words[k] = bits === 32 ? ((b(2) + 256 * b(3) - 32768) * 65536 + (b(0) + 256 * b(1) - 32768)) | 0 : b(0) + 256 * b(1) + 65536 * b(2);
  }
  return words;
}

/** Host inverse of {@link packBytePlanes}: the first `length` bytes. */
export function unpackBytePlanes(words: Int32Array, bits: WordBits, length: number): Uint8Array {
  const per = bits / 8;
  const planes = planesOf(bits);
  const w = words.length;
  if (length > w * per) throw new RangeError(`${w} words of ${bits} bits hold ${w * per} bytes, not ${length}.`);
  const bytes = new Uint8Array(length);
  for (let p = 0; p < length; p++) {
    const word = words[p % w] as number;
    const u = bits === 32 ? (word + 0x80008000) >>> 0 : word;
    bytes[p] = Math.floor(u / 256 ** (planes[Math.floor(p / w)] as number)) % 256;
  }
  return bytes;
}

/**
 * Splits words `[w]` of {@link packBytePlanes} into their bytes on the device: int32 `[w·bits/8]`
 * in plane order (no interleaving). One-dimensional on purpose: tensorflow slices a 1-D tensor at
 * 64-byte aligned bounds without copying, a `[m, 1]` one it copies. 32-bit words: `word · 2^16` in int32 wraps to `lo·2^16` (lo the
 * signed low half), which float32 holds exactly, and `word − lo = hi·2^16` is exact in int32 and
 * in float32; the signed halves are then split into bytes with exact float32 floors. 24-bit words
 * are split with float32 floors directly (every value < 2^24 is exact in float32).
 */
export function splitBytePlanes(words: tf.Tensor1D, bits: WordBits): tf.Tensor1D {
  return tf.tidy(() => {
    if (bits === 24) {
      const f = tf.cast(words, 'float32');
      const t = tf.floor(tf.mul(f, 1 / 256));
      const b2 = tf.floor(tf.mul(t, 1 / 256));
      return tf.cast(tf.concat([tf.sub(f, tf.mul(t, 256)), tf.sub(t, tf.mul(b2, 256)), b2]), 'int32') as tf.Tensor1D;
    }
    const lo = tf.mul(tf.cast(tf.mul(words, tf.scalar(65536, 'int32')), 'float32'), 1 / 65536);
    const hi = tf.mul(tf.cast(tf.sub(words, tf.cast(lo, 'int32')), 'float32'), 1 / 65536);
    const halves = tf.concat([lo, hi]); // signed: each half minus 2^15
    const high = tf.floor(tf.mul(halves, 1 / 256)); // high byte − 128
    const low = tf.sub(halves, tf.mul(high, 256));
    return tf.cast(tf.concat([low, tf.add(high, 128)]), 'int32') as tf.Tensor1D;
  });
}

/**
 * The `[256, 2]` table of {@link lookupBytePlanes} for a 16-entry code map: row `b` holds the values
 * of the two nibbles of byte `b`, low first (`map[b & 15]`, `map[b >> 4]`).
 */
export function pairTable(map: ArrayLike<number>): Float32Array {
  if (map.length !== 16) throw new RangeError(`a 4-bit code map has 16 entries, got ${map.length}.`);
  const table = new Float32Array(512);
  for (let b = 0; b < 256; b++) {
    table[2 * b] = map[b & 15] as number;
    table[2 * b + 1] = map[b >> 4] as number;
  }
  return table;
}

/**
 * Rows of `table` `[rows, c]` at `indices` `[m]`: `[m, c]`. `gatherND` (2–8 ns per index on
 * tensorflow and wasm, `gather` 27–86 ns there), `gather` on the cpu backend (the other way round
 * there).
 */
export function gatherRows(table: tf.Tensor2D, indices: tf.Tensor1D): tf.Tensor2D {
  return tf.tidy(
    () => (tf.getBackend() === 'cpu' ? tf.gather(table, indices) : tf.gatherND(table, indices.reshape([-1, 1]))) as tf.Tensor2D,
  );
}

/** Two 4-bit codes per byte for {@link pairTable}: byte p holds code 2p (low nibble) and 2p + 1 (zero if absent). */
export function codesToPairBytes(codes: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(Math.ceil(codes.length / 2));
  for (let p = 0; p < bytes.length; p++) bytes[p] = (codes[2 * p] as number) + 16 * ((codes[2 * p + 1] ?? 0) as number);
  return bytes;
}

/** Inverse of {@link codesToPairBytes}: the first `n` codes. */
export function pairBytesToCodes(bytes: Uint8Array, n: number): Uint8Array {
  const codes = new Uint8Array(n);
  for (let i = 0; i < n; i++) codes[i] = i % 2 === 0 ? (bytes[i >> 1] as number) & 15 : (bytes[i >> 1] as number) >> 4;
  return codes;
}

/** Packs 4-bit codes into words for {@link lookupBytePlanes} (`packBytePlanes` of {@link codesToPairBytes}). */
export function packCodePlanes(codes: Uint8Array, bits: WordBits): Int32Array {
  return packBytePlanes(codesToPairBytes(codes), bits);
}

/** Host inverse of {@link packCodePlanes}: the first `n` codes. */
export function unpackCodePlanes(words: Int32Array, bits: WordBits, n: number): Uint8Array {
  return pairBytesToCodes(unpackBytePlanes(words, bits, Math.ceil(n / 2)), n);
}

/**
 * Values of the codes in words of {@link packCodePlanes}, `[w·bits/4]` in element order: one
 * {@link pairTable} `[256, 2]` look-up per byte. The 2 KiB table stays in L1 cache; a `[65536, 4]`
 * table (one look-up per 16 bits) costs 1 MiB and is no faster on tensorflow (measured).
 */
export function lookupBytePlanes(words: tf.Tensor1D, bits: WordBits, table: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => gatherRows(table, splitBytePlanes(words, bits)).reshape([-1]) as tf.Tensor1D);
}
