import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { moduleOf, typescriptBlocks } from './extract.js';

// docs/library-tutorial.md is one program split into blocks: it is extracted, typechecked against
// the built packages' types and run as written (stories260K on wasm, 20 steps; LORA_ASSETS_DIR).
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const page = 'docs/library-tutorial.md';
const generated = join(repoRoot, 'tools/docs-site/.generated');
const assets = process.env.LORA_ASSETS_DIR;
const hasModel = assets !== undefined && existsSync(join(assets, 'models/stories260K'));
const built = ['core', 'data', 'eval', 'models', 'peft', 'train'].every((p) => existsSync(join(repoRoot, `packages/${p}/dist/index.d.ts`)));

/** What the test reads back from the tutorial's own variables. */
interface TutorialScope {
  adapterDir: string;
  result: { step: number; losses: readonly number[] };
  trained: { loss: number; tokens: number };
  again: { loss: number; tokens: number };
  reply: string;
  report: { raw: Record<string, number | undefined>; count: number };
}

function writeModule(name: string, trailer = ''): string {
  mkdirSync(generated, { recursive: true });
  const file = join(generated, name);
  writeFileSync(file, moduleOf(page, typescriptBlocks(join(repoRoot, page)), trailer));
  return file;
}

describe(page, () => {
  it('has the blocks of every step, extracted in order', () => {
    const blocks = typescriptBlocks(join(repoRoot, page));
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    const all = blocks.map((b) => b.code).join('\n');
    for (const call of [
      'resolveAsset(',
      'loadTokenizer(',
      'encodeChat(',
      'getPeftModel(',
      'train(',
      'saveAdapter(',
      'loadPeftModel(',
      'generate(',
      'scorePredictions(',
    ]) {
      expect(all, `the tutorial calls ${call}`).toContain(call);
    }
    expect(() => typescriptBlocks(join(repoRoot, 'tools/docs-site/fixtures/unclosed.md'))).toThrow(
      /unclosed\.md:3: code block is never closed/,
    );
  });

  it.skipIf(!built)('typechecks against the built packages', () => {
    writeModule('library-tutorial.ts');
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    try {
      execFileSync(process.execPath, [tsc, '-p', join(repoRoot, 'tools/docs-site/tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
    } catch (error) {
      const { stdout } = error as { stdout: string };
      throw new Error(`the tutorial's code does not typecheck:\n${stdout}`);
    }
  });

  it.skipIf(!hasModel)('runs as written: trains, saves a PEFT adapter, reloads it with the same loss, generates, scores', async () => {
    const file = writeModule('library-tutorial.run.ts', 'export const scope = { adapterDir, result, trained, again, reply, report };\n');
    const { scope } = (await import(pathToFileURL(file).href)) as { scope: TutorialScope };

    const config = JSON.parse(readFileSync(join(scope.adapterDir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ peft_type: 'LORA', r: 8, lora_alpha: 16 });
    expect(existsSync(join(scope.adapterDir, 'adapter_model.safetensors'))).toBe(true);

    expect(scope.result.step).toBe(20);
    expect(scope.result.losses.every(Number.isFinite)).toBe(true);
    expect(scope.result.losses.at(-1)).toBeLessThan(scope.result.losses[0] as number);
    // The saved adapter is the trained one: the reloaded model's held-out loss is the same.
    expect(scope.again.tokens).toBe(scope.trained.tokens);
    expect(scope.again.loss).toBeCloseTo(scope.trained.loss, 4);
    expect(scope.reply.length).toBeGreaterThan(0);
    expect(scope.report.count).toBe(1);
    // What the page says after its last block: the trained answer comes back word for word.
    expect(scope.reply).toBe('The cat was big and happy. It liked to play in the sun.');
    expect(scope.report.raw.exact_match).toBe(1);
  });
});
