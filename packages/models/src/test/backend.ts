import * as tf from '@tensorflow/tfjs';
import { installTensorflowKernels } from '../backend/tensorflow-kernels.js';
import { InvalidArgumentError } from '@lora/core';
import { registerWebGpu } from '../backend/webgpu.js';

/** Backends the test suite can run on. */
export type TestBackend = 'wasm' | 'cpu' | 'webgpu' | 'tensorflow';

const testBackends: readonly TestBackend[] = ['wasm', 'cpu', 'webgpu', 'tensorflow'];

let ready: Promise<TestBackend> | undefined;

/**
 * Selects the backend for tests from `LORA_TEST_BACKEND`: `wasm` (default), `cpu` (the numerical
 * reference), `tensorflow` (libtensorflow through `@tensorflow/tfjs-node`, set up offline by
 * tools/tfjs-node/setup.sh — see docs/tensorflow-backend.md) or `webgpu` (Dawn through the `webgpu` package; software adapters such as Mesa
 * lavapipe are accepted here, unlike in `selectBackend`, so CI without a GPU can run it — see
 * docs/webgpu.md; `LORA_WEBGPU_BACKEND=opengles` uses Mesa llvmpipe through EGL instead of
 * Vulkan). On webgpu, `dataSync` throws: read tensors with `await t.data()` or
 * {@link expectTensorsClose}. Idempotent; call it from `beforeAll`.
 */
export function setupTestBackend(): Promise<TestBackend> {
  ready ??= (async () => {
    const wanted = (process.env.LORA_TEST_BACKEND ?? 'wasm') as TestBackend;
    if (!testBackends.includes(wanted)) {
      throw new InvalidArgumentError({
        argument: 'LORA_TEST_BACKEND',
        message: `unknown test backend "${String(wanted)}"; expected one of ${testBackends.join(', ')}.`,
      });
    }
    if (wanted === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    if (wanted === 'tensorflow') await import('@tensorflow/tfjs-node');
    if (wanted === 'webgpu') {
      const dawnBackend = process.env.LORA_WEBGPU_BACKEND;
      if (dawnBackend !== undefined && dawnBackend !== '' && dawnBackend !== 'vulkan' && dawnBackend !== 'opengles') {
        throw new InvalidArgumentError({
          argument: 'LORA_WEBGPU_BACKEND',
          message: `unknown Dawn backend "${dawnBackend}"; expected vulkan or opengles.`,
        });
      }
      await registerWebGpu({ allowSoftware: true, ...(dawnBackend ? { dawnBackend } : {}) });
    }
    const ok = await tf.setBackend(wanted);
    if (!ok) throw new Error(`could not initialise tfjs backend "${wanted}"`);
    await tf.ready();
    // As selectBackend does: the shape-routed matmul kernel of the tensorflow backend.
    if (wanted === 'tensorflow' && !installTensorflowKernels())
      throw new Error('the tensorflow backend lacks the tfjs-node internals installTensorflowKernels needs');
    return wanted;
  })();
  return ready;
}
