import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../config/model-config.js';
import { tinyConfigJson, weightShapes } from '../test/random-model.js';
import {
  assertFitsBackend,
  countParameters,
  estimateMemory,
  InsufficientMemoryError,
  WASM_HEAP_LIMIT_BYTES,
  wasmHeapBytes,
} from './memory.js';

// SmolLM2-135M-Instruct's config as transformers writes it for the GGUF in ../shared (SOURCE.txt
// gives 134,515,008 parameters).
const SMOLLM2 = parseModelConfig(
  {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    vocab_size: 49152,
    hidden_size: 576,
    intermediate_size: 1536,
    num_hidden_layers: 30,
    num_attention_heads: 9,
    num_key_value_heads: 3,
    max_position_embeddings: 8192,
    rms_norm_eps: 1e-5,
    rope_theta: 100000,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 2,
  },
  { file: 'config.json' },
);

describe('countParameters', () => {
  it.each(['llama', 'mistral', 'qwen3', 'gemma3_text'] as const)('equals the sum of the %s weight shapes', (type) => {
    for (const tie of [true, false]) {
      const config = parseModelConfig(tinyConfigJson(type, { tie_word_embeddings: tie }), { file: 'config.json' });
      let sum = 0;
      for (const shape of weightShapes(config).values()) sum += shape.reduce((a, b) => a * b, 1);
      expect(countParameters(config)).toBe(sum);
    }
  });

  it('gives SmolLM2-135M its 134,515,008 parameters', () => {
    expect(countParameters(SMOLLM2)).toBe(134_515_008);
  });
});

describe('estimateMemory / assertFitsBackend', () => {
  it('grows with the batch and keeps every layer only when training', () => {
    const small = estimateMemory(SMOLLM2, { kind: 'training', batchSize: 1, sequenceLength: 64 });
    const big = estimateMemory(SMOLLM2, { kind: 'training', batchSize: 8, sequenceLength: 256 });
    const infer = estimateMemory(SMOLLM2, { kind: 'inference', batchSize: 8, sequenceLength: 256 });
    expect(big.activations).toBeGreaterThan(small.activations * 8);
    expect(infer.activations * SMOLLM2.numHiddenLayers).toBeLessThan(big.activations * 1.0001);
    expect(small.weights).toBe(big.weights);
    expect(big.total).toBe(big.weights + big.activations + big.logits);
  });

  it('reproduces the wasm heap measured after one SmolLM2 LoRA step (1×64: 3186 MiB, 2×64: 3983 MiB, 4×64 aborted)', () => {
    const mib = (batchSize: number) =>
      wasmHeapBytes(estimateMemory(SMOLLM2, { kind: 'training', batchSize, sequenceLength: 64 }), 'training') / 2 ** 20;
    expect(mib(1)).toBeGreaterThan(3186 * 0.95);
    expect(mib(1)).toBeLessThan(3186 * 1.1);
    expect(mib(2)).toBeGreaterThan(3983 * 0.95);
    expect(mib(2)).toBeLessThan(3983 * 1.1);
    expect(mib(4) * 2 ** 20).toBeGreaterThan(WASM_HEAP_LIMIT_BYTES);
  });

  it('refuses SmolLM2 training at the smoke batch on wasm, before loading, with the estimate and the fix', () => {
    const work = { kind: 'training', batchSize: 8, sequenceLength: 256 } as const;
    let caught: unknown;
    try {
      assertFitsBackend('wasm', SMOLLM2, work, 'SmolLM2-135M-Instruct');
    } catch (error) {
      caught = error;
    }
    expect(InsufficientMemoryError.isInstance(caught)).toBe(true);
    const error = caught as InsufficientMemoryError;
    expect(error.estimatedBytes).toBeGreaterThan(WASM_HEAP_LIMIT_BYTES);
    expect(error.message).toMatch(/SmolLM2-135M-Instruct needs about \d+\.\d\d GiB of wasm heap for training at batch 8 × 256 tokens/);
    expect(error.message).toMatch(/pnpm setup:tensorflow/);
    // The same work is allowed where memory is the machine's.
    expect(assertFitsBackend('tensorflow', SMOLLM2, work, 'x').total).toBeLessThan(error.estimatedBytes);
    // Generation with SmolLM2 fits the wasm heap.
    expect(() => assertFitsBackend('wasm', SMOLLM2, { kind: 'inference', batchSize: 8, sequenceLength: 256 }, 'x')).not.toThrow();
  });

  it('lets stories260K-sized models train on wasm', () => {
    const tiny = parseModelConfig(tinyConfigJson('llama'), { file: 'config.json' });
    expect(() => assertFitsBackend('wasm', tiny, { kind: 'training', batchSize: 8, sequenceLength: 256 }, 'tiny')).not.toThrow();
  });
});
