import * as tf from '@tensorflow/tfjs';
import { LoraError } from '@lora/core';
import { nodeBuiltin } from '@lora/core/internal';
import { importOptional } from './import-optional.js';

/** What a WebGPU adapter says about itself (the `GPUAdapterInfo` fields we look at). */
export interface AdapterDescription {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  /** `GPUAdapter.isFallbackAdapter` (older Dawn) or `info.isFallbackAdapter`. */
  isFallbackAdapter?: boolean;
}

const SOFTWARE = /lavapipe|llvmpipe|softpipe|swiftshader|swift shader|microsoft basic render/i;

/**
 * Returns why a WebGPU adapter is a software rasterizer (Mesa lavapipe/llvmpipe, SwiftShader,
 * `architecture === 'software'`, a fallback adapter), or `undefined` for a hardware adapter.
 * Software adapters run WebGPU shaders on the CPU, slower than the wasm backend.
 */
export function softwareAdapterReason(info: AdapterDescription): string | undefined {
  if (info.isFallbackAdapter === true) return 'it is a fallback (software) adapter';
  if ((info.architecture ?? '').toLowerCase() === 'software') return 'its architecture is "software"';
  for (const field of ['description', 'device', 'vendor', 'architecture'] as const) {
    const value = info[field];
    if (value !== undefined && SOFTWARE.test(value)) return `it is a software rasterizer (${field} "${value}")`;
  }
  return undefined;
}

/**
 * Copies the fields of a `GPUAdapterInfo`. They are prototype getters in Dawn's Node binding, so
 * an object spread would see none of them (and every adapter would look like hardware).
 */
export function adapterDescription(raw: AdapterDescription | undefined, isFallbackAdapter?: boolean): AdapterDescription {
  const info: AdapterDescription = {};
  for (const field of ['vendor', 'architecture', 'device', 'description'] as const) {
    const value = raw?.[field];
    if (typeof value === 'string') info[field] = value;
  }
  const fallback = raw?.isFallbackAdapter ?? isFallbackAdapter;
  if (fallback !== undefined) info.isFallbackAdapter = fallback;
  return info;
}

function describe(info: AdapterDescription): string {
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s !== undefined && s !== '').join(' / ');
}

interface DawnModule {
  create(flags: string[]): { requestAdapter(options?: object): Promise<DawnAdapter | null> };
  globals: Record<string, unknown>;
}
interface DawnAdapter {
  info?: AdapterDescription;
  isFallbackAdapter?: boolean;
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestAdapterInfo?: () => Promise<AdapterDescription>;
  requestDevice(descriptor?: object): Promise<DawnDevice>;
}
interface DawnDevice {
  addEventListener?(type: 'uncapturederror', listener: (event: { error?: { message?: string } }) => void): void;
}

/** Options of {@link registerWebGpu}. */
export interface WebGpuOptions {
  /**
   * Accept software adapters (Mesa lavapipe/llvmpipe, SwiftShader). Only for tests and CI:
   * automatic selection never sets it, since wasm is faster than a software rasterizer.
   */
  allowSoftware?: boolean;
  /**
   * Dawn API to use: `vulkan` (Linux default; Mesa lavapipe without a GPU) or `opengles`
   * (Mesa llvmpipe through EGL; implies `featureLevel: 'compatibility'` and sets
   * `EGL_PLATFORM=surfaceless` when it is unset). Default: Dawn's own choice.
   */
  dawnBackend?: 'vulkan' | 'opengles';
  /** Called with each uncaptured WebGPU validation/out-of-memory error (default: written to stderr). */
  onError?: (message: string) => void;
}

/** Dawn's own Node globals (`GPUBufferUsage`, `GPUMapMode`, ...) and `navigator.gpu`, installed once. */
let dawnGpu: ReturnType<DawnModule['create']> | undefined;
let dawnGpuBackend: string | undefined;

async function loadDawn(dawnBackend: WebGpuOptions['dawnBackend']): Promise<ReturnType<DawnModule['create']>> {
  if (dawnGpu !== undefined) {
    if (dawnGpuBackend !== (dawnBackend ?? 'default')) {
      throw new LoraError(
        `WebGPU: Dawn was already started with backend "${dawnGpuBackend}"; one process can use only one (asked for "${dawnBackend ?? 'default'}").`,
      );
    }
    return dawnGpu;
  }
  const dawn = (await importOptional('webgpu')) as DawnModule;
  if (dawnBackend === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless';
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create(dawnBackend === undefined ? [] : [`backend=${dawnBackend}`]);
  const holder = globalThis as unknown as { navigator?: Record<string, unknown> };
  const nav = (holder.navigator ??= {});
  if (nav.gpu === undefined) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  dawnGpu = gpu;
  dawnGpuBackend = dawnBackend ?? 'default';
  return gpu;
}

/**
 * Loads WebGPU in Node through the `webgpu` package (Dawn) and `@tensorflow/tfjs-backend-webgpu`,
 * requests a high-performance adapter, rejects software adapters unless `allowSoftware` is set,
 * and registers the tfjs `webgpu` backend on that adapter's device (it does not activate it).
 * Uncaptured WebGPU errors (e.g. a buffer over the adapter's binding limit) are reported through
 * `onError` instead of silently producing zeros.
 *
 * @returns a one-line description of the adapter, for the backend log line.
 * @throws {@link LoraError} when no adapter is found, the adapter is rejected, or a package is missing.
 */
export async function registerWebGpu(options: WebGpuOptions = {}): Promise<string> {
  const gpu = await loadDawn(options.dawnBackend);
  const featureLevel = options.dawnBackend === 'opengles' ? 'compatibility' : 'core';
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance', featureLevel });
  if (adapter === null) {
    throw new LoraError(
      'WebGPU: no adapter available (no GPU driver or Vulkan ICD found; without a GPU install Mesa >= 25, see docs/webgpu.md).',
    );
  }
  const info = adapterDescription(adapter.info ?? (await adapter.requestAdapterInfo?.()), adapter.isFallbackAdapter);
  const software = softwareAdapterReason(info);
  if (software !== undefined && options.allowSoftware !== true) {
    throw new LoraError(`WebGPU adapter "${describe(info)}" rejected: ${software}.`);
  }

  const webgpu = (await importOptional('@tensorflow/tfjs-backend-webgpu')) as {
    WebGPUBackend: new (device: unknown, info: AdapterDescription) => tf.KernelBackend;
  };
  const features = ['timestamp-query'].filter((f) => adapter.features.has(f));
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredFeatures: features,
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      // tfjs binds one storage buffer per input (AddN, Concat, ...); the WebGPU default of 8 makes
      // AddN with >= 8 inputs fail validation and silently return a stale result.
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    },
  });
  const onError = options.onError ?? ((message: string) => void process.stderr.write(`[lora] WebGPU error: ${message}\n`));
  device.addEventListener?.('uncapturederror', (event) => onError(event.error?.message ?? 'unknown WebGPU error'));
  // Register on the vetted adapter's device (the package's own factory would pick its own adapter).
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new webgpu.WebGPUBackend(device, info));
  chunkAddN(Math.max(2, (limits.maxStorageBuffersPerShaderStage ?? 8) - 2));
  return describe(info);
}

/**
 * Replaces the webgpu `AddN` kernel by one that sums at most `maxInputs` tensors per dispatch
 * (tfjs binds every input as a storage buffer, and a shader over the device's per-stage limit
 * fails validation and leaves a stale, wrong result instead of throwing).
 */
function chunkAddN(maxInputs: number): void {
  const original = tf.getKernel('AddN', 'webgpu');
  if (original === undefined || (original as { loraChunked?: boolean }).loraChunked === true) return;
  const kernelFunc = original.kernelFunc;
  tf.unregisterKernel('AddN', 'webgpu');
  const chunked: tf.KernelConfig & { loraChunked: boolean } = {
    kernelName: 'AddN',
    backendName: 'webgpu',
    loraChunked: true,
    kernelFunc: ({ inputs, backend, attrs }) => {
      // tfjs passes AddN its inputs as an array (the kernel reads `inputs.length`).
      const tensors = inputs as unknown as tf.TensorInfo[];
      const call = (group: tf.TensorInfo[]) =>
        kernelFunc({ inputs: group as unknown as tf.NamedTensorInfoMap, backend: backendImpl, attrs }) as tf.TensorInfo;
      const backendImpl = backend as tf.KernelBackend;
      let partial = tensors;
      const created: tf.TensorInfo[] = [];
      while (partial.length > maxInputs) {
        const next: tf.TensorInfo[] = [];
        for (let i = 0; i < partial.length; i += maxInputs) {
          const group = partial.slice(i, i + maxInputs);
          if (group.length === 1) {
            next.push(group[0] as tf.TensorInfo);
            continue;
          }
          const sum = call(group);
          created.push(sum);
          next.push(sum);
        }
        partial = next;
      }
      const result = call(partial);
      for (const t of created) backendImpl.disposeData(t.dataId);
      return result;
    },
  };
  tf.registerKernel(chunked);
}

/**
 * {@link registerWebGpu} for automatic selection: hardware adapters only (software adapters are
 * slower than wasm and are rejected with the reason).
 */
export async function registerHardwareWebGpu(): Promise<string> {
  // Node only (Dawn is the Node route); `node:fs` is loaded lazily so bundles need no shim.
  const { existsSync } = await nodeBuiltin('fs', 'registerHardwareWebGpu');
  const missing = gpuDeviceMissingReason(process.platform, existsSync);
  if (missing !== undefined) throw new LoraError(missing);
  return registerWebGpu();
}

/** Device nodes a Linux GPU driver creates: DRM (AMD, Intel, nouveau, …), NVIDIA's, WSL2's. */
const LINUX_GPU_NODES = ['/dev/dri', '/dev/nvidiactl', '/dev/nvidia0', '/dev/dxg'];

/**
 * Why automatic selection need not ask Dawn for an adapter, or `undefined` when it should: on Linux
 * without any GPU device node only a software adapter could answer (slower than wasm, and Mesa
 * prints its limit warnings on every command), so the probe is skipped. Other platforms are probed.
 */
export function gpuDeviceMissingReason(platform: string, exists: (path: string) => boolean): string | undefined {
  if (platform !== 'linux' || LINUX_GPU_NODES.some((node) => exists(node))) return undefined;
  return `WebGPU: no GPU device on this machine (none of ${LINUX_GPU_NODES.join(', ')}); a software adapter would be slower than wasm`;
}
