import * as tf from '@tensorflow/tfjs';

/**
 * 4-bit codes on tfjs tensors: 6 nibbles per int32 (values < 2^24, exact on every backend; 8 per
 * int32 is wrong on wasm/webgpu, whose int32 floorDiv/mod run in float32 — DESIGN.md). Element
 * `6i + j` is nibble `j` of word `i`, i.e. `word = Σ code_j · 16^j`. Unpacking uses exact float32
 * floor arithmetic (no bitwiseAnd, absent on webgpu and tfjs-node; see {@link unpackCodes}).
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
 * `f_j − 16·floor(f_j / 16)` — the floorDiv/mod of DESIGN.md without the int32 kernels, which on
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

/** Codes per look-up index in {@link lookupWords}: a word's 24 bits are two 12-bit triples. */
const TRIPLE = 3;

/**
 * The `[4096, 3]` table of {@link lookupWords} for a 16-entry code map: row `i` holds the values of
 * the three nibbles of the 12-bit number `i`, lowest first (`map[i & 15]`, `map[(i >> 4) & 15]`,
 * `map[i >> 8]`).
 */
export function tripleTable(map: ArrayLike<number>): Float32Array {
  if (map.length !== 16) throw new RangeError(`a 4-bit code map has 16 entries, got ${map.length}.`);
  const table = new Float32Array(4096 * TRIPLE);
  for (let i = 0; i < 4096; i++) {
    table[TRIPLE * i] = map[i & 15] as number;
    table[TRIPLE * i + 1] = map[(i >> 4) & 15] as number;
    table[TRIPLE * i + 2] = map[i >> 8] as number;
  }
  return table;
}

/**
 * Looks the codes of packed words `[w]` up in a {@link tripleTable} `[4096, 3]`, returning the
 * `[w·6]` values (element `6i + j` is nibble `j` of word `i`, as {@link unpackCodes} orders them).
 * Each word is split into its low and high 12 bits with exact float32 arithmetic (the word is
 * < 2^24 and 1/4096 is a power of two) and each half gathers three values at once: a third of the
 * gather indices of one look-up per nibble, and no per-nibble unpacking. Gathers cost per index,
 * and `gatherND` far less than `gather` on tensorflow and wasm (2 vs 29 ns and 8 vs 86 ns per
 * index on this machine), so this is 10–30× faster there than `gather(map, unpackCodes(words))`,
 * with the same values bit for bit.
 */
export function lookupWords(words: tf.Tensor1D, table: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => {
    const f = tf.cast(words, 'float32');
    const high = tf.floor(tf.mul(f, 1 / 4096));
    const low = tf.sub(f, tf.mul(high, 4096));
    const indices = tf.cast(tf.stack([low, high], 1), 'int32');
    // GatherNd costs 2–8 ns per index on tensorflow and wasm, GatherV2 27–86 ns there; the cpu
    // backend is the other way round.
    const values = tf.getBackend() === 'cpu' ? tf.gather(table, indices.reshape([-1])) : tf.gatherND(table, indices.reshape([-1, 1]));
    return values.reshape([-1]) as tf.Tensor1D;
  });
}
