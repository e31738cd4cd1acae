import * as tf from '@tensorflow/tfjs';
import { LoraError } from '@lora/core';
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
  requestDevice(descriptor?: object): Promise<unknown>;
}

/**
 * Loads WebGPU in Node through the `webgpu` package (Dawn) and `@tensorflow/tfjs-backend-webgpu`,
 * requests a high-performance adapter, rejects software adapters, and registers the tfjs
 * `webgpu` backend on that adapter's device. Throws (with the reason) when any step fails.
 */
export async function registerHardwareWebGpu(): Promise<string> {
  const dawn = (await importOptional('webgpu')) as DawnModule;
  Object.assign(globalThis, dawn.globals);
  const gpu = dawn.create([]);
  const holder = globalThis as unknown as { navigator?: Record<string, unknown> };
  const nav = (holder.navigator ??= {});
  if (nav.gpu === undefined) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) throw new LoraError('WebGPU: no adapter available (no GPU driver or Vulkan ICD found).');
  const info: AdapterDescription = {
    ...(adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {}),
    ...(adapter.isFallbackAdapter === undefined ? {} : { isFallbackAdapter: adapter.isFallbackAdapter }),
  };
  const software = softwareAdapterReason(info);
  if (software !== undefined) throw new LoraError(`WebGPU adapter "${describe(info)}" rejected: ${software}.`);

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
    },
  });
  // Register on the vetted adapter's device (the package's own factory would pick its own adapter).
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', () => new webgpu.WebGPUBackend(device, info));
  return describe(info);
}
