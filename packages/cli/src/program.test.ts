import { describe, expect, it } from 'vitest';
import { runCaptured } from './testing.js';

describe('lora program', () => {
  it('lists its commands in --help', async () => {
    const { code, stdout } = await runCaptured(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/Usage: lora/);
    expect(stdout).toMatch(/generate \[options\]/);
  });

  it('prints the version', async () => {
    const { code, stdout } = await runCaptured(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it('rejects unknown commands and bad option values with a non-zero exit code', async () => {
    expect((await runCaptured(['frobnicate'])).code).not.toBe(0);
    const bad = await runCaptured(['generate', '--model', 'x', '--max-new-tokens', 'many']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--max-new-tokens.*expected an integer >= 1/);
    const backend = await runCaptured(['generate', '--model', 'x', '--backend', 'tpu']);
    expect(backend.stderr).toMatch(/Allowed choices are tensorflow, tensorflow-gpu, webgpu, wasm, cpu/);
    const missing = await runCaptured(['generate']);
    expect(missing.stderr).toMatch(/required option '-m, --model <name-or-path>'/);
  });
});
