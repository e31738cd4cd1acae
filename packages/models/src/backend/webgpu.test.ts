import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { setupTestBackend } from '../test/index.js';
import { adapterDescription, registerWebGpu, softwareAdapterReason } from './webgpu.js';

// Runs only under LORA_TEST_BACKEND=webgpu (the opt-in `test:webgpu` job, docs/webgpu.md).
const onWebGpu = process.env.LORA_TEST_BACKEND === 'webgpu';

describe.runIf(onWebGpu)('webgpu backend pitfalls (LORA_TEST_BACKEND=webgpu)', () => {
  beforeAll(async () => {
    await setupTestBackend();
  });

  it('production registration rejects the software adapter CI runs on (lavapipe)', async () => {
    await expect(registerWebGpu()).rejects.toThrow(/rejected: .*(software|fallback)/);
  });

  it('runs on webgpu', () => {
    expect(tf.getBackend()).toBe('webgpu');
  });

  it.each([2, 7, 8, 9, 16, 40])('addN of %i tensors equals the sum (inputs chunked to the storage-buffer limit)', async (n) => {
    const before = tf.memory().numTensors;
    const xs = Array.from({ length: n }, (_, i) => tf.fill([3, 5], i + 1));
    const sum = tf.addN(xs);
    const values = await sum.data();
    expect(Array.from(values)).toEqual(new Array(15).fill((n * (n + 1)) / 2));
    tf.dispose([...xs, sum]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the gradient of a tensor used many times is summed correctly', async () => {
    const x = tf.tensor1d([1, 2, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.addN(Array.from({ length: 12 }, (_, i) => tf.mul(t, i + 1))).sum())(x);
    expect(Array.from(await g.data())).toEqual([78, 78, 78]);
    tf.dispose([x, g]);
  });

  it('int32 floorDiv and mod are exact on 6-nibble words (< 2^24)', async () => {
    const words = tf.tensor1d([0, 1, 0xabcdef, 0xffffff, 0x123456], 'int32');
    const q = tf.floorDiv(words, tf.scalar(16, 'int32'));
    const r = tf.mod(words, tf.scalar(16, 'int32'));
    expect(Array.from(await q.data())).toEqual([0, 0, 0xabcde, 0xfffff, 0x12345]);
    expect(Array.from(await r.data())).toEqual([0, 1, 0xf, 0xf, 0x6]);
    tf.dispose([words, q, r]);
  });

  it('dataSync on a device-resident tensor throws (tests and library code must read with await data())', () => {
    const y = tf.matMul(tf.ones([2, 2]), tf.ones([2, 2]));
    expect(() => y.dataSync()).toThrow();
    y.dispose();
  });
});

describe('adapterDescription', () => {
  it('reads GPUAdapterInfo fields that are prototype getters (as in Dawn), so software adapters are seen', () => {
    class Info {
      get vendor() {
        return 'mesa';
      }
      get architecture() {
        return 'software';
      }
      get device() {
        return '';
      }
      get description() {
        return 'llvmpipe (LLVM 15.0.6)';
      }
    }
    const info = adapterDescription(new Info());
    expect({ ...new Info() }).toEqual({});
    expect(info).toEqual({ vendor: 'mesa', architecture: 'software', device: '', description: 'llvmpipe (LLVM 15.0.6)' });
    expect(softwareAdapterReason(info)).toMatch(/software/);
    expect(adapterDescription(undefined, true)).toEqual({ isFallbackAdapter: true });
  });
});
