import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError, LoraError } from '@lora/core';
import { backendCandidates, backendNames, selectBackend, selectFromCandidates, type BackendCandidate } from './select-backend.js';
import { smokeTestBackend } from './smoke-test.js';
import { gpuDeviceMissingReason, softwareAdapterReason } from './webgpu.js';

const require = createRequire(import.meta.url);
function installed(name: string): boolean {
  try {
    require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

function capture() {
  const lines: string[] = [];
  const debugLines: string[] = [];
  return { lines, debugLines, log: (l: string) => lines.push(l), debug: (l: string) => debugLines.push(l) };
}

describe('selectBackend', () => {
  it('uses an explicit wasm backend and prints exactly one line', async () => {
    const out = capture();
    const selection = await selectBackend({ backend: 'wasm', ...out, env: {} });
    expect(selection).toMatchObject({ name: 'wasm', tfjsBackend: 'wasm', tried: [{ name: 'wasm', ok: true }] });
    expect(tf.getBackend()).toBe('wasm');
    expect(out.lines).toHaveLength(1);
    expect(out.lines[0]).toMatch(/backend: wasm .*backend option/);
  });

  it('uses an explicit cpu backend', async () => {
    const out = capture();
    const selection = await selectBackend({ backend: 'cpu', ...out, env: {} });
    expect(selection.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(out.lines).toEqual([expect.stringMatching(/backend: cpu/)]);
  });

  it('reads LORA_BACKEND, and the option overrides it', async () => {
    const out = capture();
    const fromEnv = await selectBackend({ ...out, env: { LORA_BACKEND: 'cpu' } });
    expect(fromEnv.name).toBe('cpu');
    expect(fromEnv.reason).toContain('LORA_BACKEND');
    const fromOption = await selectBackend({ backend: 'wasm', ...out, env: { LORA_BACKEND: 'cpu' } });
    expect(fromOption.name).toBe('wasm');
  });

  it('rejects an unknown backend name with the list of valid ones', async () => {
    const error = await selectBackend({ silent: true, env: { LORA_BACKEND: 'cuda' } }).catch((e: unknown) => e);
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain('LORA_BACKEND');
    expect((error as Error).message).toContain(backendNames.join(', '));
  });

  it('silent prints nothing', async () => {
    const out = capture();
    await selectBackend({ backend: 'cpu', silent: true, env: {} });
    expect(out.lines).toEqual([]);
  });

  it('falls back in the documented order when the optional backends are absent', async () => {
    const out = capture();
    const selection = await selectBackend({ ...out, env: {} });
    const names = selection.tried.map((t) => t.name);
    expect(names).toEqual(backendNames.slice(0, names.length));
    expect(selection.tried.slice(0, -1).every((t) => !t.ok && t.error !== undefined)).toBe(true);
    expect(selection.tried.at(-1)?.ok).toBe(true);
    expect(out.lines).toHaveLength(1);
    expect(out.debugLines).toHaveLength(selection.tried.length - 1);
    const absent = ['@tensorflow/tfjs-node-gpu', 'webgpu', '@tensorflow/tfjs-node'].every((p) => !installed(p));
    if (absent) {
      // The real CI situation: none of the heavy optional peers is installed.
      expect(selection.name).toBe('wasm');
      expect(selection.tried.map((t) => t.error)).toEqual([
        '@tensorflow/tfjs-node-gpu is not installed',
        'webgpu is not installed',
        '@tensorflow/tfjs-node is not installed',
        undefined,
      ]);
      expect(out.lines[0]).toContain('tensorflow-gpu: @tensorflow/tfjs-node-gpu is not installed');
    }
  });

  it.skipIf(installed('@tensorflow/tfjs-node'))('an explicit backend that cannot run is an error, not a fallback', async () => {
    const error = await selectBackend({ backend: 'tensorflow', silent: true, env: {} }).catch((e: unknown) => e);
    expect(LoraError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/"tensorflow".*@tensorflow\/tfjs-node is not installed.*LORA_BACKEND/);
  });
});

describe('smokeTestBackend', () => {
  const registered: string[] = [];
  afterEach(() => {
    for (const name of registered.splice(0)) {
      for (const k of tf.getKernelsForBackend(name)) tf.unregisterKernel(k.kernelName, name);
      tf.removeBackend(name);
    }
  });

  /** A real MathBackendCPU registered under `name` with the cpu kernels except `omit`. */
  async function partialCpu(name: string, omit: readonly string[] | 'all'): Promise<BackendCandidate> {
    await tf.setBackend('cpu');
    const Cpu = tf.findBackend('cpu')?.constructor as new () => tf.KernelBackend;
    tf.registerBackend(name, () => Object.assign(new Cpu(), { firstUse: false })); // no Node greeting
    registered.push(name);
    if (omit !== 'all') {
      for (const k of tf.getKernelsForBackend('cpu')) {
        if (!omit.includes(k.kernelName)) tf.registerKernel({ ...k, backendName: name });
      }
    }
    return { name: 'cpu', tfjsBackend: name, load: async () => undefined };
  }

  it.each(['cpu', 'wasm'])('passes on the real %s backend without leaking tensors', async (name) => {
    if (name === 'wasm') await import('@tensorflow/tfjs-backend-wasm');
    await tf.setBackend(name);
    const before = tf.memory().numTensors;
    await smokeTestBackend();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a backend whose matmul kernel is missing, and selection falls back', async () => {
    const broken = await partialCpu('lora-no-kernels', 'all');
    await tf.setBackend('lora-no-kernels');
    await expect(smokeTestBackend()).rejects.toThrow(/"lora-no-kernels" failed its smoke test \(matmul\).*BatchMatMul/);

    const out = capture();
    const selection = await selectFromCandidates([broken, backendCandidates.at(-1)!], { ...out, reason: 'test', env: {} });
    expect(selection.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(selection.tried[0]).toMatchObject({ ok: false, error: expect.stringContaining('smoke test (matmul)') });
    expect(out.debugLines).toHaveLength(1);
  });

  it('rejects a backend that can multiply but not differentiate', async () => {
    await partialCpu('lora-no-mul', ['Multiply']);
    await tf.setBackend('lora-no-mul');
    await expect(smokeTestBackend()).rejects.toThrow(/smoke test \(gradient\).*Multiply/);
  });
});

describe('softwareAdapterReason', () => {
  it('rejects software WebGPU adapters and accepts hardware ones', () => {
    expect(softwareAdapterReason({ vendor: 'mesa', device: 'llvmpipe (LLVM 15.0.7, 256 bits)' })).toMatch(/software/);
    expect(softwareAdapterReason({ description: 'Vulkan: lavapipe' })).toMatch(/lavapipe/);
    expect(softwareAdapterReason({ vendor: 'google', description: 'SwiftShader Device (Subzero)' })).toMatch(/SwiftShader/);
    expect(softwareAdapterReason({ architecture: 'software' })).toMatch(/software/);
    expect(softwareAdapterReason({ isFallbackAdapter: true })).toMatch(/fallback/);
    expect(softwareAdapterReason({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100' })).toBeUndefined();
  });
});

describe('explainLoadFailure', () => {
  it("turns tfjs-node's missing-addon error into one short line with the fix", async () => {
    const { explainLoadFailure } = await import('./import-optional.js');
    const raw = new Error(
      'The Node.js native addon module (tfjs_binding.node) can not be found at path: /x/node_modules/.pnpm/@tensorflow+tfjs-node@4.22.0/node_modules/@tensorflow/tfjs-node/lib/napi-v8/tfjs_binding.node. \nPlease run command ...',
    );
    const explained = explainLoadFailure('@tensorflow/tfjs-node', raw) as Error;
    expect(explained.message).toBe(
      '@tensorflow/tfjs-node is installed but its native addon is not built (pnpm setup:tensorflow; docs/tensorflow-backend.md)',
    );
    expect((explainLoadFailure('@tensorflow/tfjs-node-gpu', raw) as Error).message).toContain('setup.sh --gpu');
    const other = new Error('libcudart.so.11.0: cannot open shared object file');
    expect(explainLoadFailure('@tensorflow/tfjs-node-gpu', other)).toBe(other);
  });
});

describe('gpuDeviceMissingReason', () => {
  it('skips the WebGPU probe (and its Mesa warnings) on Linux without a GPU device node, probes otherwise', () => {
    expect(gpuDeviceMissingReason('linux', () => false)).toMatch(/^WebGPU: no GPU device on this machine \(none of \/dev\/dri, /);
    expect(gpuDeviceMissingReason('linux', (p) => p === '/dev/dri')).toBeUndefined();
    expect(gpuDeviceMissingReason('linux', (p) => p === '/dev/nvidiactl')).toBeUndefined();
    expect(gpuDeviceMissingReason('darwin', () => false)).toBeUndefined();
  });
});
