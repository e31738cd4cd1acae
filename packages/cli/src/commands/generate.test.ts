import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCaptured } from '../testing.js';

const assets = process.env.LORA_ASSETS_DIR;

describe('lora generate', () => {
  it('fails with the places tried and a hint when the model is not found', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'lora-cli-'));
    try {
      const { code, stdout, stderr } = await runCaptured(['generate', '--model', 'no-such-model', '--no-download'], {
        LORA_ASSETS_DIR: empty,
        HF_HOME: join(empty, 'hf'),
      });
      expect(code).toBe(1);
      expect(stdout).toBe('');
      expect(stderr).toContain('Asset "no-such-model" not found');
      expect(stderr).toContain(join(empty, 'models', 'no-such-model'));
      expect(stderr).toContain('HINT:');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it.skipIf(!assets)('prints only the generated text of stories260K (greedy)', async () => {
    const { code, stdout, stderr } = await runCaptured(
      ['generate', '--model', 'stories260K', '--max-new-tokens', '20', '--no-download'],
      { LORA_ASSETS_DIR: assets, LORA_BACKEND: process.env.LORA_TEST_BACKEND ?? 'wasm' },
    );
    expect(stderr.match(/\[lora\] backend: /g)).toHaveLength(1);
    expect(code).toBe(0);
    expect(stdout.startsWith('Once upon a time')).toBe(true);
    expect(stdout.endsWith('\n')).toBe(true);
  });
});
