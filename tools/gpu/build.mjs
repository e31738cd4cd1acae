// Bundles tools/gpu/bench-webgpu.mjs (+ @lora packages from packages/*/dist, @tensorflow/tfjs,
// @tensorflow/tfjs-backend-webgpu and the `webgpu` package's JavaScript) into ONE ESM file for a
// machine that has no node_modules. Dawn's native dawn.node is not bundled: the `webgpu` package
// loads it from `<bundle dir>/dist/linux-x64/dawn.node` (tools/gpu/stage.sh puts it there).
//
//   pnpm build && node tools/gpu/build.mjs OUT_DIR
//
// esbuild is the one vite (vitest's) already installs: no new dependency.
import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const outDir = process.argv[2];
if (!outDir) throw new Error('usage: node tools/gpu/build.mjs OUT_DIR');

async function loadEsbuild() {
  try {
    return await import('esbuild');
  } catch {
    const fromVitest = createRequire(realpathSync(join(root, 'node_modules', 'vitest', 'package.json')));
    const fromVite = createRequire(realpathSync(fromVitest.resolve('vite')));
    return import(pathToFileURL(fromVite.resolve('esbuild')).href);
  }
}
const esbuild = await loadEsbuild();

// @lora/models loads optional peers with `import(specifier)` (a variable), which a bundler cannot
// follow. In the bundle, webgpu and tfjs-backend-webgpu are imported statically (one tfjs-core
// for everything); the tensorflow and wasm backends are reported as not installed.
const optionalPeers = {
  name: 'lora-optional-peers',
  setup(build) {
    build.onLoad({ filter: /[\\/]models[\\/]dist[\\/]backend[\\/]import-optional\.js$/ }, () => ({
      loader: 'js',
      contents: `
import { LoraError } from '@lora/core';
export class OptionalPackageMissing extends LoraError {
  constructor(packageName, cause) { super(packageName + ' is not installed', { cause }); this.name = 'OptionalPackageMissing'; this.packageName = packageName; }
}
const bundled = {
  webgpu: () => import('webgpu'),
  '@tensorflow/tfjs-backend-webgpu': () => import('@tensorflow/tfjs-backend-webgpu'),
};
export async function importOptional(specifier) {
  const load = bundled[specifier];
  if (load === undefined) throw new OptionalPackageMissing(specifier, new Error('not in the GPU bench bundle'));
  return load();
}
`,
    }));
  },
};

const result = await esbuild.build({
  entryPoints: [join(root, 'tools', 'gpu', 'bench-webgpu.mjs')],
  outfile: join(outDir, 'bench-webgpu.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Workspace packages resolve through a package that depends on all of them.
  nodePaths: [join(root, 'packages', 'cli', 'node_modules'), join(root, 'packages', 'models', 'node_modules')],
  external: ['@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-backend-wasm'],
  banner: {
    js: "import { createRequire as __loraCreateRequire } from 'node:module'; const require = __loraCreateRequire(import.meta.url);",
  },
  plugins: [optionalPeers],
  logLevel: 'warning',
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.error(`[build] ${join(outDir, 'bench-webgpu.mjs')}: ${(bytes / 2 ** 20).toFixed(1)} MiB`);
