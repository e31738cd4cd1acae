#!/usr/bin/env node
// Bundles the browser entry (`browser` export condition) of each platform-neutral @lora package
// with esbuild for platform=browser and fails on any `node:` (or bare Node built-in) import, any
// unresolved module, and any name the browser entry exports that the Node entry does not.
//
//   node tools/browser/check-bundle.mjs            # from the TypeScript sources (no build needed)
//   node tools/browser/check-bundle.mjs --dist     # from dist/ (after pnpm build), as npm users get it
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

export const BROWSER_PACKAGES = ['core', 'data', 'models', 'peft', 'train'];
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const nodeBuiltins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

async function bundle(pkg, { platform, source, entry }) {
  const subpath = entry === 'index' ? '' : `/${entry}`;
  const conditions = source ? ['@lora/source'] : [];
  const result = await esbuild.build({
    // The browser bundle resolves the package by name (through its `exports` map, as a user's
    // bundler would) from examples/browser, which depends on all of them; the Node entry is only
    // bundled to list its exports, from its file, with its dependencies left out.
    ...(platform === 'browser'
      ? { stdin: { contents: `export * from '@lora/${pkg}${subpath}';`, resolveDir: `${repoRoot}/examples/browser`, loader: 'js' } }
      : { entryPoints: [`${repoRoot}/packages/${pkg}/${source ? `src/${entry}.ts` : `dist/${entry}.js`}`], packages: 'external' }),
    bundle: true,
    platform,
    format: 'esm',
    write: false,
    minify: platform === 'browser',
    conditions,
    metafile: true,
    logLevel: 'silent',
  });
  return result;
}

/**
 * Checks one package's entry (`index`, the public one, or `internal`, `@lora/<pkg>/internal`);
 * returns `{ pkg, bytes, exports, nodeOnly, problems }` (`nodeOnly`: names only the Node entry exports).
 */
export async function checkPackage(pkg, { source = true, entry = 'index' } = {}) {
  const problems = [];
  let browser;
  try {
    browser = await bundle(pkg, { platform: 'browser', source, entry });
  } catch (error) {
    for (const e of error.errors ?? [error]) {
      problems.push(`${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text ?? e.message}`);
    }
    return { pkg, bytes: 0, exports: 0, problems };
  }
  for (const [file, input] of Object.entries(browser.metafile.inputs)) {
    for (const imp of input.imports) {
      if (nodeBuiltins.has(imp.path) || imp.path.startsWith('node:')) problems.push(`${file}: imports ${imp.path} (${imp.kind})`);
    }
  }
  const output = Object.values(browser.metafile.outputs)[0];
  const node = await bundle(pkg, { platform: 'node', source, entry });
  const nodeExports = new Set(Object.values(node.metafile.outputs)[0].exports);
  for (const name of output.exports) {
    if (!nodeExports.has(name)) problems.push(`exports ${name}, which the Node entry does not`);
  }
  const browserExports = new Set(output.exports);
  const nodeOnly = [...nodeExports].filter((name) => !browserExports.has(name)).sort();
  return { pkg, bytes: browser.outputFiles[0].contents.length, exports: output.exports.length, nodeOnly, problems };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const source = !process.argv.includes('--dist');
  let failed = false;
  for (const [pkg, entry] of BROWSER_PACKAGES.flatMap((p) => [
    [p, 'index'],
    [p, 'internal'],
  ])) {
    const { bytes, exports, nodeOnly, problems } = await checkPackage(pkg, { source, entry });
    failed ||= problems.length > 0;
    console.log(
      `@lora/${pkg}${entry === 'index' ? '' : `/${entry}`}: ${problems.length === 0 ? 'ok' : 'FAIL'} (${exports} exports, ${(bytes / 1024).toFixed(0)} KiB minified with dependencies)`,
    );
    console.log(`  Node only: ${nodeOnly.join(', ') || 'none'}`);
    for (const p of problems) console.log(`  ${p}`);
  }
  process.exit(failed ? 1 : 0);
}
