#!/usr/bin/env node
// `pnpm check:packages`: checks the packages as npm users get them (CONTRIBUTING.md, "Published
// packages"). Run after `pnpm build`.
//
// 1. `pnpm pack` of every non-private package under packages/ into a temporary folder (the prepack
//    step copies the root LICENSE in; `workspace:^` becomes `^<version>`).
// 2. Our own tarball checks: LICENSE, README.md, CHANGELOG.md present; every `exports` target and
//    every source map's `sources` entry resolves to a file inside the tarball; no `workspace:` spec.
// 3. publint and @arethetypeswrong/cli (profile esm-only: the packages are ESM only) on each tarball.
// 4. The consumer test: a fresh npm project installs the tarballs of @lora/train and its @lora
//    dependencies plus @tensorflow/tfjs from the registry, then an ESM script loads stories260K from
//    LORA_ASSETS_DIR, trains 3 LoRA steps with @lora/train on wasm (cpu if wasm cannot start) and
//    saves a PEFT adapter; adapter_config.json + adapter_model.safetensors must exist.
//    Skipped with a SKIPPED line when the npm registry is unreachable or LORA_ASSETS_DIR is unset.
//
// Exits 1 on any error (warnings are printed and do not fail). `--keep` keeps the temporary folder.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = (name) => join(root, 'node_modules/.bin', name);
const keep = process.argv.includes('--keep');
const started = Date.now();
const work = mkdtempSync(join(tmpdir(), 'lora-pack-'));
const errors = [];
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;

/** Runs a command, returning its status and combined output (never throws). */
function run(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
  return { status: r.status ?? 1, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}

/** Every file path a package.json `exports` value points at (all conditions, all subpaths). */
function exportTargets(value) {
  if (typeof value === 'string') return [value];
  if (value === null || typeof value !== 'object') return [];
  return Object.values(value).flatMap(exportTargets);
}

/** Lists the files under `dir`, relative, with `/` separators. */
function walk(dir, prefix = '') {
  return readdirSync(dir).flatMap((name) => {
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    return statSync(join(dir, name)).isDirectory() ? walk(join(dir, name), rel) : [rel];
  });
}

function checkTarball(name, unpacked) {
  const problems = [];
  const files = new Set(walk(unpacked));
  for (const required of ['package.json', 'LICENSE', 'README.md', 'CHANGELOG.md']) {
    if (!files.has(required)) problems.push(`${required} is missing`);
  }
  const manifest = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));
  for (const target of exportTargets(manifest.exports)) {
    if (!files.has(posix.normalize(target))) problems.push(`exports target ${target} is not in the tarball`);
  }
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, spec] of Object.entries(manifest[field] ?? {})) {
      if (spec.startsWith('workspace:')) problems.push(`${field}.${dep} is still ${spec}`);
    }
  }
  for (const field of ['repository', 'homepage', 'bugs', 'license']) {
    if (manifest[field] === undefined) problems.push(`package.json has no ${field}`);
  }
  let maps = 0;
  for (const file of files) {
    if (!file.endsWith('.map')) continue;
    maps++;
    const map = JSON.parse(readFileSync(join(unpacked, file), 'utf8'));
    for (const source of map.sources ?? []) {
      const resolved = posix.normalize(posix.join(posix.dirname(file), map.sourceRoot ?? '', source));
      if (!files.has(resolved)) problems.push(`${file}: source ${source} is not in the tarball`);
    }
  }
  console.log(`${name}: ${files.size} files, ${maps} source maps${problems.length === 0 ? ', contents ok' : ''}`);
  return problems;
}

// 1. Pack.
const tarballDir = join(work, 'tarballs');
mkdirSync(tarballDir);
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter((p) => p.manifest.private !== true);
const tarballs = new Map();
for (const { dir, manifest } of packages) {
  if (!existsSync(join(dir, 'dist'))) {
    console.error(`${manifest.name}: ${dir}/dist is missing; run \`pnpm build\` first`);
    process.exit(1);
  }
  const before = new Set(readdirSync(tarballDir));
  execFileSync('pnpm', ['pack', '--pack-destination', tarballDir], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  const made = readdirSync(tarballDir).filter((f) => !before.has(f));
  if (made.length !== 1) throw new Error(`pnpm pack in ${dir} made ${made.length} tarballs`);
  tarballs.set(manifest.name, join(tarballDir, made[0]));
}
console.log(`== packed ${tarballs.size} tarballs into ${tarballDir} (${elapsed()})`);

// 2 + 3. Contents, publint, attw.
for (const [name, tarball] of tarballs) {
  const unpacked = join(work, 'unpacked', name);
  mkdirSync(unpacked, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked, '--strip-components=1']);
  const problems = checkTarball(name, unpacked);
  for (const p of problems) errors.push(`${name}: ${p}`);

  const publint = run(bin('publint'), ['run', tarball, '--level', 'suggestion']);
  const publintReport = publint.output
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^(Running publint|Unpacking tarball|Linting\.\.\.)/.test(l.trim()));
  console.log(`  publint: ${publintReport.join('\n    ')}`);
  if (publint.status !== 0) errors.push(`${name}: publint reported errors`);

  // esm-only: node10 and require() from CommonJS are not supported resolutions (ESM-only packages).
  const attw = run(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'ascii'], { env: { ...process.env, NO_COLOR: '1' } });
  if (attw.status === 0) console.log('  attw (esm-only): no problems (node16 from ESM, bundler)');
  else {
    console.log(`  attw (esm-only):\n${attw.output.trim()}`);
    errors.push(`${name}: attw reported problems`);
  }
}
console.log(`== publint + attw done (${elapsed()})`);

// 4. Consumer test.
function consumerTest() {
  const assets = process.env.LORA_ASSETS_DIR;
  if (assets === undefined || !existsSync(join(assets, 'models/stories260K'))) {
    console.log('SKIPPED: consumer test: LORA_ASSETS_DIR is unset or has no models/stories260K');
    return;
  }
  const ping = run('npm', ['view', '@tensorflow/tfjs@4.22.0', 'version'], { timeout: 60_000 });
  if (ping.status !== 0) {
    console.log(`SKIPPED: consumer test: the npm registry is unreachable (npm view: ${ping.output.trim().split('\n').pop()})`);
    return;
  }
  const wanted = ['@lora/core', '@lora/models', '@lora/data', '@lora/peft', '@lora/quant', '@lora/train'];
  const project = join(work, 'consumer');
  mkdirSync(project);
  const fileSpecs = Object.fromEntries(wanted.map((n) => [n, `file:${tarballs.get(n)}`]));
  const tfjs = JSON.parse(readFileSync(join(root, 'packages/train/package.json'), 'utf8')).peerDependencies['@tensorflow/tfjs'];
  writeFileSync(
    join(project, 'package.json'),
    `${JSON.stringify({ name: 'lora-consumer-test', private: true, type: 'module', dependencies: { ...fileSpecs, '@tensorflow/tfjs': tfjs }, overrides: fileSpecs }, null, 2)}\n`,
  );
  writeFileSync(join(project, 'main.mjs'), readFileSync(fileURLToPath(new URL('consumer.mjs', import.meta.url))));
  const install = run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, timeout: 300_000 });
  console.log(`npm install (done at ${elapsed()}): ${install.output.trim() || 'ok'}`);
  if (install.status !== 0) {
    errors.push('consumer test: npm install of the tarballs failed');
    return;
  }
  const out = join(project, 'adapter');
  const main = run(process.execPath, ['main.mjs', out], {
    cwd: project,
    timeout: 300_000,
    env: { ...process.env, LORA_ASSETS_DIR: assets },
  });
  console.log(main.output.trim());
  if (main.status !== 0) {
    errors.push(`consumer test: main.mjs exited with ${main.status}`);
    return;
  }
  for (const file of ['adapter_config.json', 'adapter_model.safetensors']) {
    if (!existsSync(join(out, file))) errors.push(`consumer test: ${file} was not written`);
  }
  const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  if (config.peft_type !== 'LORA') errors.push(`consumer test: adapter_config.json has peft_type ${config.peft_type}`);
  console.log(`consumer test: adapter written to ${out}: ${readdirSync(out).sort().join(', ')}`);
}
consumerTest();

if (keep) console.log(`kept ${work}`);
else rmSync(work, { recursive: true, force: true });
console.log(`== check:packages finished in ${elapsed()}`);
if (errors.length > 0) {
  console.error(`check:packages: ${errors.length} error(s):\n  ${errors.join('\n  ')}`);
  process.exit(1);
}
