import { readdirSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

// One vitest project per package and example: `vitest run --project models` runs a package,
// `--project example-carbot` an example.
// The `@lora/source` export condition resolves workspace packages to their TypeScript sources,
// so tests run without a build.
// Paths resolve from this file, not the cwd: each package's `test` script runs
// `vitest run --root ../.. --project <name>` from its own folder (pnpm --filter, turbo).
const repoRoot = fileURLToPath(new URL('.', import.meta.url));
const roots = ['packages', 'examples'];
const projects = roots.flatMap((root) =>
  existsSync(join(repoRoot, root))
    ? readdirSync(join(repoRoot, root), { withFileTypes: true })
        .filter((d) => d.isDirectory() && existsSync(join(repoRoot, root, d.name, 'package.json')))
        .map((d) => ({
          extends: true as const,
          test: {
            name: root === 'examples' ? `example-${d.name}` : d.name,
            root: repoRoot,
            include: [`${root}/${d.name}/src/**/*.test.ts`, `${root}/${d.name}/test/**/*.test.ts`],
            // The fuzz targets run in their own bounded job (`pnpm fuzz`, vitest.fuzz.config.ts).
            exclude: [...configDefaults.exclude, '**/*.fuzz.test.ts'],
          },
        }))
    : [],
);
// bench/'s pure helpers (ratio statistics, the reference-environment check): plain .mjs beside the scripts.
projects.push({ extends: true as const, test: { name: 'bench', root: repoRoot, include: ['bench/*.test.mjs'] } });
// Every command in README.md and docs/ checked against the CLI, the scripts and the files it names;
// the library tutorial's code run as written (tools/docs-site).
projects.push({
  extends: true as const,
  test: { name: 'docs', root: repoRoot, include: ['tools/docs-commands/*.test.ts', 'tools/docs-site/*.test.ts'] },
});

export default defineConfig({
  root: repoRoot,
  resolve: { conditions: ['@lora/source', 'module', 'node', 'import', 'default'] },
  ssr: { resolve: { conditions: ['@lora/source', 'node', 'import', 'default'], externalConditions: ['node'] } },
  test: {
    projects,
    // Timeouts catch hangs, not slowness: every test bounds its work (tiny models, few steps), and a
    // busy 2-core machine or a software WebGPU adapter can take minutes where a quiet one takes
    // seconds (stories260K's greedy generation passed 120 s on lavapipe under load).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    pool: 'forks',
    // Tests never read or fill the user's judge answer cache (~/.cache/lora/judge).
    env: { LORA_JUDGE_CACHE_DIR: join(tmpdir(), 'lora-test-judge-cache') },
    reporters: ['default'],
  },
});
