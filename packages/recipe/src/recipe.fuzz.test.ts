// Fuzzing recipes (run by `pnpm fuzz`): every recipe shipped in examples/*/recipes, with up to
// three structural edits (hostile values — 1e12, -1, "../../x", null, nested junk — in any field,
// fields deleted, unknown keys added) or its YAML text cut or spliced, loaded as `lora train`
// loads it. Each case must load to a recipe with a safe run name, or fail with a @lora error
// naming the recipe file.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { LoraError } from '@lora/core';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type JsonEdit, applyJsonEdits, jsonEdits, runFuzz } from '../../../tools/fuzz/harness.js';
import { loadRecipe } from './recipe.js';

const EXAMPLES = join(import.meta.dirname, '../../../examples');
const FILES = readdirSync(EXAMPLES).flatMap((example) => {
  try {
    return readdirSync(join(EXAMPLES, example, 'recipes'))
      .filter((f) => f.endsWith('.yaml'))
      .map((f) => join(EXAMPLES, example, 'recipes', f));
  } catch {
    return [];
  }
});
/** Each recipe with its chat template made absolute, so that the copy in a temp folder still finds it. */
const BASES = FILES.map((file) => {
  const recipe = parseYaml(readFileSync(file, 'utf8')) as { data?: { chatTemplate?: string } };
  const t = recipe.data?.chatTemplate;
  if (t !== undefined && t !== 'stories' && !isAbsolute(t)) recipe.data!.chatTemplate = resolve(dirname(file), t);
  return recipe;
});
const ENV = Object.fromEntries(
  [...new Set(FILES.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\$\{([A-Za-z_]\w*)\}/g)].map((m) => m[1]!)))].map((v) => [
    v,
    '/tmp/fuzz-data',
  ]),
);
const dir = mkdtempSync(join(tmpdir(), 'lora-fuzz-recipe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Mutation = { kind: 'edits'; edits: JsonEdit[] } | { kind: 'cut'; at: number } | { kind: 'splice'; at: number; text: string };
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 8, arbitrary: jsonEdits(3).map((edits) => ({ kind: 'edits' as const, edits })) },
  { weight: 1, arbitrary: fc.nat().map((at) => ({ kind: 'cut' as const, at })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), text: fc.string({ maxLength: 8 }) }) },
);

function text(base: unknown, m: Mutation): string {
  if (m.kind === 'edits') return stringifyYaml(applyJsonEdits(base, m.edits) ?? null);
  const t = stringifyYaml(base);
  const at = m.at % (t.length + 1);
  return m.kind === 'cut' ? t.slice(0, at) : t.slice(0, at) + m.text + t.slice(at);
}

it('recipes: mutated example recipes load with a safe run name, or fail naming the file', async () => {
  const report = await runFuzz({
    name: 'recipes',
    runs: 1500,
    seed: 45,
    arbitrary: fc.tuple(fc.nat({ max: BASES.length - 1 }), mutation),
    describe: ([b, m]) => `${FILES[b]} ${JSON.stringify(m)}`,
    async run([b, m], index) {
      const file = join(dir, `case-${index}.yaml`);
      writeFileSync(file, text(BASES[b], m));
      try {
        const { recipe } = await loadRecipe(file, ENV);
        if (!/^[\w.-]+$/.test(recipe.name) || recipe.name === '.' || recipe.name === '..')
          throw new Error(`accepted run name ${JSON.stringify(recipe.name)}`);
        return 'accepted';
      } finally {
        rmSync(file, { force: true });
      }
    },
    isClearError: (error) => LoraError.isInstance(error) && error.message.includes('case-'),
  });
  expect(report.crashed, JSON.stringify(report.failures.slice(0, 5), null, 2)).toBe(0);
  expect(report.hung).toBe(0);
});
