// The bench scripts import the BUILT packages (`importBuilt` in common.mjs) and are not run by the test
// suite: a name that leaves a package's entries would only show as a TypeError in the middle of a bench
// run (as `trainPkg.causalLmLoss` did when the public API was trimmed). This test reads every script,
// finds the names it takes from each package, and checks that the built entries export them.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importBuilt, root } from './common.mjs';

const benchDir = join(root, 'bench');
const scripts = readdirSync(benchDir).filter((f) => f.endsWith('.mjs') && !f.endsWith('.test.mjs'));

/** `{ name → [package, entry] }` bindings and destructured names of one script's `importBuilt` calls. */
function builtImports(source) {
  const bindings = [];
  const call = /const\s+(\{[^}]*\}|\w+)\s*=\s*await\s+importBuilt\(\s*'([\w-]+)'(?:\s*,\s*'([^']+)')?\s*\)/g;
  for (const m of source.matchAll(call)) {
    const [, lhs, pkg, entry = 'index.js'] = m;
    if (lhs.startsWith('{')) {
      const names = lhs
        .slice(1, -1)
        .split(',')
        .map((s) => s.trim().split(/\s*:\s*/)[0])
        .filter(Boolean);
      bindings.push({ pkg, entry, names });
    } else {
      const names = [...source.matchAll(new RegExp(`\\b${lhs}\\.(\\w+)`, 'g'))].map((u) => u[1]);
      bindings.push({ pkg, entry, names: [...new Set(names)] });
    }
  }
  return bindings;
}

describe('bench scripts', () => {
  it('find the packages they import built', () => {
    expect(existsSync(join(root, 'packages', 'core', 'dist', 'index.js')), 'run pnpm build first').toBe(true);
  });

  for (const script of scripts) {
    const bindings = builtImports(readFileSync(join(benchDir, script), 'utf8'));
    if (bindings.length === 0) continue;
    it(`${script}: every name it takes from a built package exists`, async () => {
      const missing = [];
      for (const { pkg, entry, names } of bindings) {
        const mod = await importBuilt(pkg, entry);
        for (const name of names) if (!(name in mod)) missing.push(`${pkg}/${entry}: ${name}`);
      }
      expect(missing).toEqual([]);
    });
  }
});
