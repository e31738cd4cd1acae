import { describe, expect, it } from 'vitest';
import { llama3RopeDivisors, recoverLlama3RopeScaling, type Llama3RopeScaling } from './llama3-rope.js';

const llama = (factor: number, low: number, high: number, old: number): Llama3RopeScaling => ({
  rope_type: 'llama3',
  factor,
  low_freq_factor: low,
  high_freq_factor: high,
  original_max_position_embeddings: old,
});

describe('recoverLlama3RopeScaling', () => {
  it.each([
    ['Llama 3.1 8B', 500000, 128, llama(8, 1, 4, 8192)],
    ['Llama 3.2 1B', 500000, 64, llama(32, 1, 4, 8192)],
    ['tiny (one interpolated frequency)', 10000, 16, llama(8, 1, 4, 32)],
    ['non-default bands', 10000, 64, llama(4, 1, 2, 1000)],
  ])('%s', (_name, theta, headDim, scaling) => {
    const divisors = llama3RopeDivisors(theta, headDim, scaling);
    const recovered = recoverLlama3RopeScaling(divisors, theta, headDim);
    expect(recovered).toBeDefined();
    expect(llama3RopeDivisors(theta, headDim, recovered!)).toEqual(divisors);
    if (scaling.low_freq_factor === 1 && scaling.high_freq_factor === 4) expect(recovered).toEqual(scaling);
  });

  it('equivalent bands come back with low_freq_factor 1', () => {
    const divisors = llama3RopeDivisors(500000, 128, llama(8, 2, 8, 16384));
    expect(recoverLlama3RopeScaling(divisors, 500000, 128)).toEqual(llama(8, 1, 4, 8192));
  });

  it('returns undefined for factors no llama3 scaling produces', () => {
    expect(recoverLlama3RopeScaling(new Float32Array(64).fill(1), 500000, 128)).toBeUndefined();
    expect(
      recoverLlama3RopeScaling(
        Float32Array.from({ length: 64 }, (_, i) => 1 + i),
        500000,
        128,
      ),
    ).toBeUndefined();
    expect(recoverLlama3RopeScaling(new Float32Array(10), 500000, 128)).toBeUndefined();
  });
});
