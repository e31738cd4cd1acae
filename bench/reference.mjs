// The Python reference environment of bench/ (PyTorch + transformers + PEFT + bitsandbytes):
// bench/requirements.txt pins every package exactly, `pnpm bench:setup` (bench/setup.mjs) creates
// bench/.venv from it and leaves a stamp with the file's hash, and the workload scripts accept a
// reference interpreter only when its installed versions equal the pins — unless told otherwise
// (`--reference-any` or LORA_BENCH_REFERENCE=any). Only node: modules here, so it is testable alone.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The pinned reference packages. */
export const REQUIREMENTS_FILE = join(root, 'bench', 'requirements.txt');
/** The virtual environment `pnpm bench:setup` creates (git-ignored). */
export const VENV_DIR = join(root, 'bench', '.venv');
/** Its interpreter: the default reference Python. */
export const VENV_PYTHON = join(VENV_DIR, 'bin', 'python');
/** Written by `pnpm bench:setup` once the versions check out: `{ requirementsSha256, python, packages, date }`. */
export const STAMP_FILE = join(VENV_DIR, 'lora-bench-stamp.json');

/** The packages the header names, in this order (the rest of the pins are their dependencies). */
export const KEY_PACKAGES = ['torch', 'transformers', 'peft', 'bitsandbytes'];

/** PEP 503 normalised name: lower case, runs of `-`, `_`, `.` as one `-` (`Jinja2` → `jinja2`, `typing_extensions` → `typing-extensions`). */
export function normalizeName(name) {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/**
 * Parses a lock-style requirements file: one `name==version` per line, `#` comments and blank lines
 * ignored. Returns a Map of normalised name → version. Anything else (ranges, extras, URLs, options)
 * throws, since the file's point is exact versions.
 */
export function parseRequirements(text, file = 'bench/requirements.txt') {
  const pins = new Map();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([A-Za-z0-9][A-Za-z0-9.+!_-]*)$/.exec(line);
    if (m === null) throw new Error(`${file}:${i + 1}: expected an exact pin \`name==version\`, found \`${line}\``);
    const name = normalizeName(m[1]);
    if (pins.has(name)) throw new Error(`${file}:${i + 1}: \`${m[1]}\` is pinned twice`);
    pins.set(name, m[2]);
  });
  if (pins.size === 0) throw new Error(`${file}: no pins found`);
  return pins;
}

/** sha256 (hex) of the requirements text: what the stamp records and the check compares. */
export function requirementsHash(text) {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * Pins whose installed version differs: `[{ name, pinned, installed }]` (`installed` null when the
 * package is missing). `installed` maps normalised names to versions.
 */
export function versionMismatches(pins, installed) {
  const out = [];
  for (const [name, pinned] of pins) {
    const have = installed[name] ?? null;
    if (have !== pinned) out.push({ name, pinned, installed: have });
  }
  return out;
}

/** `torch 2.14.0 (pinned 2.15.0), peft missing (pinned 0.21.2), … and 3 more`. */
export function describeMismatches(mismatches, limit = 6) {
  const key = (m) => (KEY_PACKAGES.includes(m.name) ? KEY_PACKAGES.indexOf(m.name) : KEY_PACKAGES.length);
  const sorted = [...mismatches].sort((a, b) => key(a) - key(b));
  const shown = sorted
    .slice(0, limit)
    .map((m) => `${m.name} ${m.installed ?? 'missing'} (pinned ${m.pinned})`)
    .join(', ');
  return sorted.length > limit ? `${shown}, … and ${sorted.length - limit} more` : shown;
}

/** One-line versions: `Python 3.11.7, torch 2.15.0, transformers 5.23.0, peft 0.21.2, bitsandbytes 0.50.2`. */
export function versionsLine(probe) {
  return [`Python ${probe.python}`, ...KEY_PACKAGES.map((n) => `${n} ${probe.packages[n] ?? 'missing'}`)].join(', ');
}

// Reads installed versions without importing the packages (importing torch takes seconds).
const PROBE = `
import importlib.metadata as md, json, sys
names = json.loads(sys.stdin.read())
def version(n):
    try:
        return md.version(n)
    except md.PackageNotFoundError:
        return None
print(json.dumps({"python": sys.version.split()[0], "executable": sys.executable,
                  "packages": {n: version(n) for n in names}}))
`;

/**
 * Installed versions of `names` in `python`: `{ python, executable, packages: { name: version | null } }`,
 * or `{ error }` when the interpreter does not run.
 */
export function probeVersions(python, names) {
  const child = spawnSync(python, ['-c', PROBE], { input: JSON.stringify(names), encoding: 'utf8' });
  if (child.error) return { error: `${python}: ${child.error.code === 'ENOENT' ? 'not found' : child.error.message}` };
  if (child.status !== 0) return { error: `${python} exited ${child.status}: ${(child.stderr ?? '').trim().split('\n').pop()}` };
  const parsed = JSON.parse(child.stdout.trim().split('\n').pop());
  const packages = Object.fromEntries(Object.entries(parsed.packages).map(([n, v]) => [normalizeName(n), v]));
  return { ...parsed, packages };
}

/** The stamp of bench/.venv, or null. */
export function readStamp(file = STAMP_FILE) {
  if (!existsSync(file)) return null;
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** True when the user asked to accept any reference: the flag, or LORA_BENCH_REFERENCE=any. */
export function referenceAnyRequested(flag = false, env = process.env) {
  return flag === true || env.LORA_BENCH_REFERENCE === 'any';
}

const SETUP_HINT = 'run `pnpm bench:setup` to create bench/.venv from bench/requirements.txt';

/**
 * Decides which Python runs the reference. Returns one of
 *   `{ skipped }`  LORA_BENCH_PYTHON=none: @lora alone;
 *   `{ refused }`  a message naming the fix: not set up, the interpreter fails, or versions differ
 *                  from bench/requirements.txt (without `any`), or bench/.venv's stamp is stale;
 *   `{ python, versions, provenance, mismatches, summary }` otherwise — `summary` is the header line.
 * `LORA_BENCH_PYTHON` picks another interpreter (default bench/.venv/bin/python).
 */
export function resolveReference({ any = false, env = process.env } = {}) {
  const chosen = env.LORA_BENCH_PYTHON;
  if (chosen === 'none') return { skipped: 'reference skipped (LORA_BENCH_PYTHON=none)' };
  const python = chosen ?? VENV_PYTHON;
  const shown = chosen ?? relative(root, VENV_PYTHON);
  if (chosen === undefined && !existsSync(VENV_PYTHON))
    return {
      refused:
        `the reference environment is not set up: ${SETUP_HINT}. Or LORA_BENCH_PYTHON=none for @lora alone, ` +
        'or LORA_BENCH_PYTHON=<python> for an interpreter of your own (with the pinned versions, or add --reference-any).',
    };
  const text = readFileSync(REQUIREMENTS_FILE, 'utf8');
  const pins = parseRequirements(text);
  const hash = requirementsHash(text);
  const versions = probeVersions(python, [...pins.keys()]);
  if (versions.error) return { refused: `reference interpreter unusable — ${versions.error}; ${SETUP_HINT} or set LORA_BENCH_PYTHON` };
  const mismatches = versionMismatches(pins, versions.packages);
  const ourVenv = chosen === undefined || resolve(python) === VENV_PYTHON;
  const stamp = ourVenv ? readStamp() : null;
  const stampOk = stamp !== null && stamp.requirementsSha256 === hash;
  const provenance = stampOk
    ? `set up by pnpm bench:setup from bench/requirements.txt ${hash.slice(0, 12)}`
    : ourVenv
      ? 'bench/.venv without a current stamp of pnpm bench:setup'
      : 'not set up by pnpm bench:setup';
  if (!any) {
    if (mismatches.length > 0)
      return {
        refused:
          `${shown} does not match bench/requirements.txt: ${describeMismatches(mismatches)}. ` +
          `${ourVenv ? SETUP_HINT : `Unset LORA_BENCH_PYTHON to use bench/.venv (${SETUP_HINT})`}, ` +
          'or pass --reference-any (LORA_BENCH_REFERENCE=any) to measure against it anyway.',
      };
    if (ourVenv && !stampOk)
      return {
        refused: `bench/.venv was not set up from the current bench/requirements.txt (stamp ${stamp ? 'stale' : 'missing'}): ${SETUP_HINT}.`,
      };
  }
  const note =
    mismatches.length === 0
      ? `versions = bench/requirements.txt (${pins.size} pins)`
      : `DIFFERS from bench/requirements.txt, accepted by --reference-any: ${describeMismatches(mismatches)}`;
  return {
    python,
    versions,
    provenance,
    mismatches,
    summary: `reference ${shown}: ${versionsLine(versions)}; ${note}; ${provenance}`,
  };
}

/** What a result JSON records about the reference it ran: interpreter, versions, provenance, mismatches. */
export function referenceJson(ref) {
  return {
    python: ref.python,
    pythonVersion: ref.versions.python,
    ...Object.fromEntries(KEY_PACKAGES.map((n) => [n, ref.versions.packages[n] ?? null])),
    provenance: ref.provenance,
    mismatches: ref.mismatches,
  };
}

/**
 * `resolveReference`, and on refusal prints the message and exits 2 — for the top of a workload
 * script, before it spends minutes on @lora's side.
 */
export function resolveReferenceOrExit(options) {
  const ref = resolveReference(options);
  if (ref.refused !== undefined) {
    console.error(`bench: ${ref.refused}`);
    process.exit(2);
  }
  return ref;
}

// ---- The llama.cpp anchor of W7 (opt-in): llama-cpp-python built from source in its own venv.

/** Pins of the llama.cpp anchor (llama-cpp-python and its dependencies). */
export const LLAMA_CPP_REQUIREMENTS_FILE = join(root, 'bench', 'requirements-llamacpp.txt');
/** The venv `pnpm bench:setup --llama-cpp` builds (git-ignored). */
export const LLAMA_CPP_VENV_DIR = join(root, 'bench', '.venv-llama-cpp');
/** Its interpreter: the default anchor Python. */
export const LLAMA_CPP_PYTHON = join(LLAMA_CPP_VENV_DIR, 'bin', 'python');
/** Written by `pnpm bench:setup --llama-cpp`: `{ requirementsSha256, python, packages, systemInfo, date }`. */
export const LLAMA_CPP_STAMP_FILE = join(LLAMA_CPP_VENV_DIR, 'lora-bench-stamp.json');

/** How to install the anchor: the line W7 prints when it is absent. */
export const LLAMA_CPP_HINT =
  'install it with `pnpm bench:setup --llama-cpp` (builds llama-cpp-python from source into bench/.venv-llama-cpp, a few minutes; ' +
  'needs a C++ compiler and cmake: apt-get install -y build-essential cmake)';

/**
 * Which Python runs W7's llama.cpp anchor. Never refuses (the anchor is a yardstick, not the
 * reference): `{ skipped }` with the reason and `LLAMA_CPP_HINT` when LORA_BENCH_LLAMA_CPP_PYTHON=none,
 * when bench/.venv-llama-cpp is missing or llama-cpp-python is not installed; else
 * `{ python, version, mismatches, summary }`, the versions that differ from
 * bench/requirements-llamacpp.txt listed in `summary`.
 */
export function resolveLlamaCpp({ env = process.env } = {}) {
  const chosen = env.LORA_BENCH_LLAMA_CPP_PYTHON;
  if (chosen === 'none') return { skipped: 'llama.cpp anchor skipped (LORA_BENCH_LLAMA_CPP_PYTHON=none)' };
  const python = chosen ?? LLAMA_CPP_PYTHON;
  const shown = chosen ?? relative(root, LLAMA_CPP_PYTHON);
  if (chosen === undefined && !existsSync(LLAMA_CPP_PYTHON))
    return { skipped: `llama.cpp anchor skipped: bench/.venv-llama-cpp does not exist; ${LLAMA_CPP_HINT}` };
  const pins = parseRequirements(readFileSync(LLAMA_CPP_REQUIREMENTS_FILE, 'utf8'), 'bench/requirements-llamacpp.txt');
  const versions = probeVersions(python, [...pins.keys()]);
  if (versions.error) return { skipped: `llama.cpp anchor skipped: ${versions.error}; ${LLAMA_CPP_HINT}` };
  const version = versions.packages['llama-cpp-python'] ?? null;
  if (version === null) return { skipped: `llama.cpp anchor skipped: llama-cpp-python is not installed in ${shown}; ${LLAMA_CPP_HINT}` };
  const mismatches = versionMismatches(pins, versions.packages);
  const note =
    mismatches.length === 0
      ? 'versions = bench/requirements-llamacpp.txt'
      : `DIFFERS from bench/requirements-llamacpp.txt: ${describeMismatches(mismatches)}`;
  return { python, version, mismatches, summary: `llama.cpp anchor ${shown}: llama-cpp-python ${version}; ${note}` };
}
