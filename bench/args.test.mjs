import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = (name) => fileURLToPath(new URL(`./${name}`, import.meta.url));
const run = (name, ...args) =>
  spawnSync(process.execPath, [script(name), ...args], { encoding: 'utf8', env: { ...process.env, LORA_BENCH_PYTHON: 'none' } });

// Every bench script parses its options before doing any work.
describe.each(['run.mjs', 'train-sft.mjs', 'decode.mjs', 'mc-score.mjs', 'setup.mjs'])('%s options', (name) => {
  it('--help lists the options and exits 0', () => {
    const r = run(name, '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^usage: node bench/${name.replace('.', '\\.')} \\[options\\]`));
  });

  it('an unknown option is one line naming it, exit 2, no stack trace', () => {
    const r = run(name, '--bogus');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`${name}: Unknown option '--bogus'`);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
