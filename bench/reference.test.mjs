import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  KEY_PACKAGES,
  LLAMA_CPP_REQUIREMENTS_FILE,
  REQUIREMENTS_FILE,
  describeMismatches,
  normalizeName,
  parseRequirements,
  referenceAnyRequested,
  requirementsHash,
  resolveLlamaCpp,
  resolveReference,
  versionMismatches,
  versionsLine,
} from './reference.mjs';

describe('parseRequirements', () => {
  it('reads exact pins under PEP 503 names, skipping comments and blank lines', () => {
    const pins = parseRequirements('# header\n\ntorch==2.15.0\nJinja2==3.1.6  # templating\ntyping_extensions == 4.16.0\n');
    expect([...pins]).toEqual([
      ['torch', '2.15.0'],
      ['jinja2', '3.1.6'],
      ['typing-extensions', '4.16.0'],
    ]);
  });

  it('refuses anything but an exact pin, naming the line', () => {
    expect(() => parseRequirements('torch>=2.15\n', 'r.txt')).toThrow(
      'r.txt:1: expected an exact pin `name==version`, found `torch>=2.15`',
    );
    expect(() => parseRequirements('peft==0.21.2\n-r other.txt\n')).toThrow(':2:');
    expect(() => parseRequirements('peft[torch]==0.21.2\n')).toThrow(':1:');
    expect(() => parseRequirements('Peft==0.21.2\npeft==0.21.1\n')).toThrow('pinned twice');
    expect(() => parseRequirements('# nothing\n')).toThrow('no pins');
  });

  it('normalises names like pip', () => {
    expect(normalizeName('Typing_Extensions')).toBe('typing-extensions');
    expect(normalizeName('zope.interface')).toBe('zope-interface');
  });
});

describe('bench/requirements.txt', () => {
  const pins = parseRequirements(readFileSync(REQUIREMENTS_FILE, 'utf8'));

  it('pins the key packages at the versions of tools/parity/requirements.txt', () => {
    const parity = new Map(
      readFileSync(join(REQUIREMENTS_FILE, '../../tools/parity/requirements.txt'), 'utf8')
        .split('\n')
        .map((l) => l.replace(/#.*/, '').trim())
        .filter((l) => l.includes('=='))
        .map((l) => l.split('=='))
        .map(([n, v]) => [normalizeName(n), v]),
    );
    for (const name of KEY_PACKAGES) {
      expect(pins.get(name), name).toBeDefined();
      expect(pins.get(name), name).toBe(parity.get(name));
    }
    // W7's reference reads the GGUF file with the gguf package, as tools/parity does.
    expect(pins.get('gguf')).toBe(parity.get('gguf'));
  });

  it('has a stable hash', () => {
    expect(requirementsHash('a==1\n')).toBe(requirementsHash('a==1\n'));
    expect(requirementsHash('a==1\n')).not.toBe(requirementsHash('a==2\n'));
  });
});

describe('version checks', () => {
  const pins = new Map([
    ['torch', '2.15.0'],
    ['peft', '0.21.2'],
    ['numpy', '2.4.6'],
  ]);

  it('lists differing and missing packages, key packages first', () => {
    const mismatches = versionMismatches(pins, { numpy: '2.0.0', torch: '2.15.0' });
    expect(mismatches).toEqual([
      { name: 'peft', pinned: '0.21.2', installed: null },
      { name: 'numpy', pinned: '2.4.6', installed: '2.0.0' },
    ]);
    expect(describeMismatches(mismatches)).toBe('peft missing (pinned 0.21.2), numpy 2.0.0 (pinned 2.4.6)');
    expect(describeMismatches(mismatches, 1)).toBe('peft missing (pinned 0.21.2), … and 1 more');
    expect(versionMismatches(pins, { torch: '2.15.0', peft: '0.21.2', numpy: '2.4.6' })).toEqual([]);
  });

  it('prints Python and the key versions', () => {
    const line = versionsLine({ python: '3.11.7', packages: { torch: '2.15.0', transformers: '5.23.0', peft: '0.21.2' } });
    expect(line).toBe('Python 3.11.7, torch 2.15.0, transformers 5.23.0, peft 0.21.2, bitsandbytes missing');
  });

  it('accepts any reference only when asked', () => {
    expect(referenceAnyRequested(false, {})).toBe(false);
    expect(referenceAnyRequested(true, {})).toBe(true);
    expect(referenceAnyRequested(false, { LORA_BENCH_REFERENCE: 'any' })).toBe(true);
  });
});

describe('resolveReference', () => {
  // A stand-in interpreter that answers the version probe with fixed versions.
  function fakePython(packages) {
    const dir = mkdtempSync(join(tmpdir(), 'lora-bench-ref-'));
    const file = join(dir, 'python');
    const answer = JSON.stringify({ python: '3.11.7', executable: file, packages });
    writeFileSync(file, `#!/bin/sh\ncat > /dev/null\necho '${answer}'\n`);
    chmodSync(file, 0o755);
    return file;
  }
  const pinned = Object.fromEntries(parseRequirements(readFileSync(REQUIREMENTS_FILE, 'utf8')));

  it('skips the reference with LORA_BENCH_PYTHON=none', () => {
    expect(resolveReference({ env: { LORA_BENCH_PYTHON: 'none' } })).toEqual({ skipped: 'reference skipped (LORA_BENCH_PYTHON=none)' });
  });

  it('refuses an interpreter that does not run', () => {
    const ref = resolveReference({ env: { LORA_BENCH_PYTHON: '/nonexistent/python' } });
    expect(ref.refused).toContain('/nonexistent/python: not found');
  });

  it('accepts an interpreter with the pinned versions, saying it was not set up by bench:setup', () => {
    const python = fakePython(pinned);
    const ref = resolveReference({ env: { LORA_BENCH_PYTHON: python } });
    expect(ref.refused).toBeUndefined();
    expect(ref.python).toBe(python);
    expect(ref.mismatches).toEqual([]);
    expect(ref.summary).toContain(`torch ${pinned.torch}`);
    expect(ref.summary).toContain('not set up by pnpm bench:setup');
  });

  it('refuses other versions unless told, then records the difference', () => {
    const python = fakePython({ ...pinned, transformers: '5.25.0' });
    const refused = resolveReference({ env: { LORA_BENCH_PYTHON: python } });
    expect(refused.refused).toContain(`transformers 5.25.0 (pinned ${pinned.transformers})`);
    expect(refused.refused).toContain('--reference-any');
    const ref = resolveReference({ any: true, env: { LORA_BENCH_PYTHON: python } });
    expect(ref.mismatches).toEqual([{ name: 'transformers', pinned: pinned.transformers, installed: '5.25.0' }]);
    expect(ref.summary).toContain('DIFFERS from bench/requirements.txt');
  });

  describe("W7's llama.cpp anchor", () => {
    const llamaPins = Object.fromEntries(parseRequirements(readFileSync(LLAMA_CPP_REQUIREMENTS_FILE, 'utf8')));

    it('is skipped, never refused, saying how to install it', () => {
      expect(resolveLlamaCpp({ env: { LORA_BENCH_LLAMA_CPP_PYTHON: 'none' } }).skipped).toContain('LORA_BENCH_LLAMA_CPP_PYTHON=none');
      const gone = resolveLlamaCpp({ env: { LORA_BENCH_LLAMA_CPP_PYTHON: '/nonexistent/python' } });
      expect(gone.skipped).toContain('pnpm bench:setup --llama-cpp');
      const without = resolveLlamaCpp({ env: { LORA_BENCH_LLAMA_CPP_PYTHON: fakePython({ ...llamaPins, llama_cpp_python: null }) } });
      expect(without.skipped).toContain('llama-cpp-python is not installed');
    });

    it('accepts llama-cpp-python, noting versions that differ from the pins', () => {
      const same = resolveLlamaCpp({ env: { LORA_BENCH_LLAMA_CPP_PYTHON: fakePython(llamaPins) } });
      expect(same.version).toBe(llamaPins['llama-cpp-python']);
      expect(same.summary).toContain('versions = bench/requirements-llamacpp.txt');
      const other = resolveLlamaCpp({ env: { LORA_BENCH_LLAMA_CPP_PYTHON: fakePython({ ...llamaPins, 'llama-cpp-python': '0.3.1' }) } });
      expect(other.mismatches).toEqual([{ name: 'llama-cpp-python', pinned: llamaPins['llama-cpp-python'], installed: '0.3.1' }]);
      expect(other.summary).toContain('DIFFERS');
    });
  });
});
