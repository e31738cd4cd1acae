// Prints what Dawn sees: the high-performance adapter's info, its main limits and features (one
// JSON line), or "no adapter". Runs beside the bundle (tools/gpu/run.sh: dist/linux-x64/dawn.node).
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { create } = require('./dist/linux-x64/dawn.node');
const gpu = create([]);
const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (adapter === null) {
  console.log('no adapter');
  process.exit(1);
}
const info = adapter.info ?? {};
const limits = {};
for (const k of [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxStorageBuffersPerShaderStage',
])
  limits[k] = adapter.limits[k];
console.log(
  JSON.stringify({
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    isFallbackAdapter: info.isFallbackAdapter,
    limits,
    features: [...adapter.features].sort(),
  }),
);
process.exit(0);
