#!/usr/bin/env node
// Builds the page into dist/: index.html, main.js (esbuild, platform=browser: the packages'
// `browser` entries, from their TypeScript sources) and tfjs's wasm binaries (served from the
// page's own server: no CDN).
import { copyFile, mkdir, readdir, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** Builds the page into `outDir` (default examples/browser/dist); returns the bundle's size in bytes. */
export async function buildPage(outDir = join(here, 'dist')) {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(join(outDir, 'wasm'), { recursive: true });
  const result = await esbuild.build({
    entryPoints: [join(here, 'src/main.ts')],
    outfile: join(outDir, 'main.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    // Workspace packages from source (no `pnpm build` needed); the `browser` condition comes first.
    conditions: ['@lora/source'],
    metafile: true,
    logLevel: 'warning',
  });
  const wasmDir = join(dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  for (const name of await readdir(wasmDir)) {
    if (name.endsWith('.wasm')) await copyFile(join(wasmDir, name), join(outDir, 'wasm', name));
  }
  await copyFile(join(here, 'index.html'), join(outDir, 'index.html'));
  return { outDir, bytes: result.metafile.outputs[Object.keys(result.metafile.outputs).find((f) => f.endsWith('main.js'))].bytes };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { outDir, bytes } = await buildPage();
  console.log(`built ${outDir} (main.js ${(bytes / 1024).toFixed(0)} KiB)`);
}
