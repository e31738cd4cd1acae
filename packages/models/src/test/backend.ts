import * as tf from '@tensorflow/tfjs';

/** Backends the test suite can run on. */
export type TestBackend = 'wasm' | 'cpu';

let ready: Promise<TestBackend> | undefined;

/**
 * Selects the backend for tests: `LORA_TEST_BACKEND` (`wasm` by default, `cpu` as the numerical
 * reference). Idempotent; call it from `beforeAll`.
 */
export function setupTestBackend(): Promise<TestBackend> {
  ready ??= (async () => {
    const wanted = (process.env.LORA_TEST_BACKEND ?? 'wasm') as TestBackend;
    if (wanted === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    const ok = await tf.setBackend(wanted);
    if (!ok) throw new Error(`could not initialise tfjs backend "${wanted}"`);
    await tf.ready();
    return wanted;
  })();
  return ready;
}
