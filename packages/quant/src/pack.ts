import * as tf from '@tensorflow/tfjs';

/**
 * 4-bit codes on tfjs tensors: 6 nibbles per int32 (values < 2^24, exact on every backend; 8 per
 * int32 is wrong on wasm/webgpu, whose int32 floorDiv/mod run in float32 — DESIGN.md). Element
 * `6i + j` is nibble `j` of word `i`, i.e. `word = Σ code_j · 16^j`. Unpacking uses floorDiv and
 * mod only (no bitwiseAnd, absent on webgpu and tfjs-node).
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

/** Unpacks an int32 word tensor `[w]` into int32 codes `[w·6]` on the device (floorDiv + mod). */
export function unpackCodes(words: tf.Tensor1D): tf.Tensor1D {
  return tf.tidy(() => {
    const powers = tf.tensor2d(POWERS, [1, NIBBLES_PER_WORD], 'int32');
    const shifted = tf.floorDiv(words.reshape([-1, 1]), powers);
    return tf.mod(shifted, tf.scalar(16, 'int32')).reshape([-1]) as tf.Tensor1D;
  });
}
