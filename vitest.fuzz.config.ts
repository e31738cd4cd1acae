import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The bounded fuzz job (`pnpm fuzz`, run by .ci/run after the tests): every `*.fuzz.test.ts`
// beside the code it attacks. tools/fuzz/run.mjs totals the counts each target reports.
const repoRoot = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: repoRoot,
  resolve: { conditions: ['@lora/source', 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: ['@lora/source', 'node', 'import', 'default'], externalConditions: ['node'] } },
  test: {
    include: ['packages/*/src/**/*.fuzz.test.ts'],
    // A hang inside a synchronous parser cannot be interrupted: this bound ends the job instead.
    testTimeout: 1_200_000,
    pool: 'forks',
    env: { LORA_JUDGE_CACHE_DIR: join(tmpdir(), 'lora-fuzz-judge-cache') },
    reporters: ['default'],
  },
});
