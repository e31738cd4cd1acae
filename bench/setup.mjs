#!/usr/bin/env node
// `pnpm bench:setup`: creates the bench's Python reference environment, bench/.venv (git-ignored),
// from the exact pins of bench/requirements.txt (PyPI only), checks the installed versions against
// the pins and writes bench/.venv/lora-bench-stamp.json with the requirements' sha256 — which the
// workload scripts check (bench/reference.mjs). Idempotent: when the stamp is current and the
// versions match, it only says so.
//
//   pnpm bench:setup [--python python3.11] [--force] [--llama-cpp]
//
// --python: the interpreter that creates the venv (default: LORA_BENCH_SETUP_PYTHON, else
// python3.11, else python3). --force: delete bench/.venv first and build it again.
// Downloads about 3 GB (torch's PyPI wheel brings the CUDA libraries) the first time.
// --llama-cpp (opt-in): builds W7's llama.cpp anchor instead, bench/.venv-llama-cpp, from
// bench/requirements-llamacpp.txt: llama-cpp-python compiled from source for this CPU (GGML_NATIVE;
// never a cached wheel, which may have been built for another CPU), a few minutes; needs a C++
// compiler and cmake. With --force it rebuilds that venv (bench/.venv is left alone).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from './args.mjs';
import {
  KEY_PACKAGES,
  LLAMA_CPP_PYTHON,
  LLAMA_CPP_REQUIREMENTS_FILE,
  LLAMA_CPP_STAMP_FILE,
  LLAMA_CPP_VENV_DIR,
  REQUIREMENTS_FILE,
  STAMP_FILE,
  VENV_DIR,
  VENV_PYTHON,
  describeMismatches,
  parseRequirements,
  probeVersions,
  readStamp,
  requirementsHash,
  versionMismatches,
  versionsLine,
} from './reference.mjs';

const { values: args } = parseArgs({
  options: {
    python: { type: 'string' },
    force: { type: 'boolean', default: false },
    'llama-cpp': { type: 'boolean', default: false },
  },
});
const say = (line) => console.error(`[bench:setup] ${line}`);
const die = (line) => {
  console.error(`bench:setup: ${line}`);
  process.exit(1);
};

/** The interpreter that creates a venv: --python, LORA_BENCH_SETUP_PYTHON, python3.11 or python3. */
function basePython() {
  const candidates = args.python
    ? [args.python]
    : process.env.LORA_BENCH_SETUP_PYTHON
      ? [process.env.LORA_BENCH_SETUP_PYTHON]
      : ['python3.11', 'python3'];
  const base = candidates.find((p) => spawnSync(p, ['--version']).status === 0);
  if (base === undefined) die(`no Python found (tried ${candidates.join(', ')}); pass --python PATH (3.11 is the tested version)`);
  const version = spawnSync(base, ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).stdout.trim();
  return { base, version };
}

/** W7's llama.cpp anchor: bench/.venv-llama-cpp with llama-cpp-python built from source (opt-in). */
function setupLlamaCpp() {
  const text = readFileSync(LLAMA_CPP_REQUIREMENTS_FILE, 'utf8');
  const pins = parseRequirements(text, 'bench/requirements-llamacpp.txt');
  const hash = requirementsHash(text);
  const venv = relative(process.cwd(), LLAMA_CPP_VENV_DIR) || LLAMA_CPP_VENV_DIR;
  if (args.force && existsSync(LLAMA_CPP_VENV_DIR)) {
    say(`--force: deleting ${venv}`);
    rmSync(LLAMA_CPP_VENV_DIR, { recursive: true, force: true });
  }
  if (existsSync(LLAMA_CPP_PYTHON)) {
    const now = probeVersions(LLAMA_CPP_PYTHON, [...pins.keys()]);
    if (!now.error && versionMismatches(pins, now.packages).length === 0 && readStamp(LLAMA_CPP_STAMP_FILE)?.requirementsSha256 === hash) {
      say(`${venv} is set up (llama-cpp-python ${now.packages['llama-cpp-python']})`);
      return;
    }
  } else {
    const { base, version } = basePython();
    say(`creating ${venv} with ${base} (Python ${version})`);
    if (spawnSync(base, ['-m', 'venv', LLAMA_CPP_VENV_DIR], { stdio: 'inherit' }).status !== 0) die(`${base} -m venv ${venv} failed`);
  }
  for (const [tool, hint] of [
    ['cmake', 'cmake'],
    ['c++', 'build-essential'],
  ]) {
    if (spawnSync(tool, ['--version']).status !== 0)
      die(`${tool} not found: llama-cpp-python compiles llama.cpp (Debian: apt-get install -y ${hint})`);
  }
  say('pip install -r bench/requirements-llamacpp.txt: compiling llama.cpp for this CPU (a few minutes)');
  const pip = spawnSync(
    LLAMA_CPP_PYTHON,
    [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-cache-dir',
      '--no-binary',
      'llama_cpp_python',
      '-r',
      LLAMA_CPP_REQUIREMENTS_FILE,
    ],
    { stdio: 'inherit', env: { ...process.env, CMAKE_ARGS: process.env.CMAKE_ARGS ?? '-DGGML_NATIVE=ON' } },
  );
  if (pip.status !== 0) die(`pip install of llama-cpp-python failed (exit ${pip.status}); nothing stamped`);
  const installed = probeVersions(LLAMA_CPP_PYTHON, [...pins.keys()]);
  if (installed.error) die(installed.error);
  const mismatches = versionMismatches(pins, installed.packages);
  if (mismatches.length > 0) die(`installed versions differ from the pins: ${describeMismatches(mismatches)}; nothing stamped`);
  const info = spawnSync(LLAMA_CPP_PYTHON, ['-c', 'import llama_cpp; print(llama_cpp.llama_print_system_info().decode().strip())'], {
    encoding: 'utf8',
  });
  if (info.status !== 0) die(`llama_cpp does not import: ${(info.stderr ?? '').trim().split('\n').pop()}`);
  writeFileSync(
    LLAMA_CPP_STAMP_FILE,
    `${JSON.stringify(
      {
        requirementsSha256: hash,
        python: installed.python,
        packages: installed.packages,
        systemInfo: info.stdout.trim(),
        date: new Date().toISOString(),
      },
      null,
      2,
    )}\n`,
  );
  say(`${venv}: llama-cpp-python ${installed.packages['llama-cpp-python']}, ${info.stdout.trim()}`);
}

if (args['llama-cpp']) {
  setupLlamaCpp();
  process.exit(0);
}

const text = readFileSync(REQUIREMENTS_FILE, 'utf8');
const pins = parseRequirements(text);
const hash = requirementsHash(text);
const venv = relative(process.cwd(), VENV_DIR) || VENV_DIR;

if (args.force && existsSync(VENV_DIR)) {
  say(`--force: deleting ${venv}`);
  rmSync(VENV_DIR, { recursive: true, force: true });
}

if (existsSync(VENV_PYTHON)) {
  const now = probeVersions(VENV_PYTHON, [...pins.keys()]);
  if (now.error) die(`${now.error} — the venv is broken; run again with --force to rebuild it`);
  if (versionMismatches(pins, now.packages).length === 0 && readStamp()?.requirementsSha256 === hash) {
    say(`${venv} is set up (bench/requirements.txt ${hash.slice(0, 12)}): ${versionsLine(now)}`);
    process.exit(0);
  }
  say(`${venv} exists but does not match bench/requirements.txt ${hash.slice(0, 12)}: installing the pins`);
} else {
  const { base, version } = basePython();
  if (!version.startsWith('3.11.'))
    say(`note: ${base} is Python ${version}; the pins are tested with 3.11 (some may lack wheels for ${version})`);
  say(`creating ${venv} with ${base} (Python ${version})`);
  const made = spawnSync(base, ['-m', 'venv', VENV_DIR], { stdio: 'inherit' });
  if (made.status !== 0) die(`${base} -m venv ${venv} failed (exit ${made.status}); on Debian/Ubuntu install python3-venv`);
}

say(`pip install -r bench/requirements.txt (${pins.size} exact pins; ~3 GB of wheels the first time)`);
const pip = spawnSync(VENV_PYTHON, ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', REQUIREMENTS_FILE], {
  stdio: 'inherit',
});
if (pip.status !== 0) die(`pip install failed (exit ${pip.status}); nothing stamped — fix the error above and run again`);

const installed = probeVersions(VENV_PYTHON, [...pins.keys()]);
if (installed.error) die(installed.error);
const mismatches = versionMismatches(pins, installed.packages);
if (mismatches.length > 0) die(`installed versions differ from the pins: ${describeMismatches(mismatches)}; nothing stamped`);

writeFileSync(
  STAMP_FILE,
  `${JSON.stringify(
    {
      requirementsSha256: hash,
      python: installed.python,
      packages: Object.fromEntries(KEY_PACKAGES.map((n) => [n, installed.packages[n] ?? null])),
      date: new Date().toISOString(),
    },
    null,
    2,
  )}\n`,
);
say(`done: ${versionsLine(installed)}; stamp ${relative(process.cwd(), STAMP_FILE)}`);
