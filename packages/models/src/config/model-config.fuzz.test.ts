// Fuzzing config.json (run by `pnpm fuzz`): real checkpoint configs (fixtures/configs, copied from
// public repositories; their transformers-5 re-serialisations; the tiny parity models) get up to
// three structural edits each (a field replaced by a hostile value — 1e12, -1, 0.5, "32", null,
// nested junk —, deleted, or a key added), or their text is cut or spliced. Every case must parse
// to a config whose sizes a model can be built from, or fail with a @lora error naming the file.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoraError, parseJson } from '@lora/core';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { z } from 'zod';
import { type JsonEdit, applyJsonEdits, jsonEdits, runFuzz } from '../../../../tools/fuzz/harness.js';
import { type ModelConfig, parseModelConfig } from './model-config.js';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures');
const FILES = [
  ...readdirSync(join(FIXTURES, 'configs'))
    .filter((f) => f.endsWith('.config.json'))
    .map((f) => join(FIXTURES, 'configs', f)),
  ...readdirSync(join(FIXTURES, 'configs/v5-written'))
    .filter((f) => f.endsWith('.config.json'))
    .map((f) => join(FIXTURES, 'configs/v5-written', f)),
  ...['tiny-llama', 'tiny-mistral', 'tiny-qwen3', 'tiny-gemma3', 'tiny-gemma3-mm'].map((m) => join(FIXTURES, m, 'config.json')),
];
const BASES = FILES.map((f) => readFileSync(f, 'utf8'));
const FILE = 'fuzz/config.json';

type Mutation = { kind: 'edits'; edits: JsonEdit[] } | { kind: 'cut'; at: number } | { kind: 'splice'; at: number; text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 8, arbitrary: jsonEdits(3).map((edits) => ({ kind: 'edits' as const, edits })) },
  { weight: 1, arbitrary: fc.nat().map((at) => ({ kind: 'cut' as const, at })) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('splice' as const), at: fc.nat(), text: fc.string({ maxLength: 8 }) }) },
);

function apply(text: string, m: Mutation): string {
  if (m.kind === 'edits') return JSON.stringify(applyJsonEdits(JSON.parse(text), m.edits), null, 2);
  const at = m.at % (text.length + 1);
  return m.kind === 'cut' ? text.slice(0, at) : text.slice(0, at) + m.text + text.slice(at);
}

/** What a model build relies on; a parsed config that breaks it was silently accepted. */
function checkBuildable(c: ModelConfig): void {
  const sizes = {
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    intermediateSize: c.intermediateSize,
    numHiddenLayers: c.numHiddenLayers,
    numAttentionHeads: c.numAttentionHeads,
    numKeyValueHeads: c.numKeyValueHeads,
    headDim: c.headDim,
    maxPositionEmbeddings: c.maxPositionEmbeddings,
  };
  for (const [name, v] of Object.entries(sizes)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new Error(`accepted ${name} = ${v}`);
  }
  if (c.numAttentionHeads % c.numKeyValueHeads !== 0)
    throw new Error(`accepted ${c.numAttentionHeads} heads over ${c.numKeyValueHeads} kv heads`);
  if (!(c.rmsNormEps > 0 && c.rmsNormEps < 1)) throw new Error(`accepted rms_norm_eps = ${c.rmsNormEps}`);
  if (c.layerTypes.length !== c.numHiddenLayers)
    throw new Error(`accepted ${c.layerTypes.length} layer types for ${c.numHiddenLayers} layers`);
  for (const r of Object.values(c.rope)) if (!(r.theta > 0 && Number.isFinite(r.theta))) throw new Error(`accepted rope theta ${r.theta}`);
  for (const id of [c.bosTokenId, c.padTokenId, ...c.eosTokenIds]) {
    if (id !== undefined && !(Number.isSafeInteger(id) && id >= 0)) throw new Error(`accepted token id ${id}`);
  }
}

it('config.json: mutated real configs parse to a buildable config, or fail naming the file', async () => {
  const report = await runFuzz({
    name: 'config.json',
    runs: 2000,
    seed: 43,
    arbitrary: fc.tuple(fc.nat({ max: BASES.length - 1 }), mutation),
    describe: ([b, m]) => `${FILES[b]} ${JSON.stringify(m)}`,
    async run([b, m]) {
      const json = parseJson(apply(BASES[b]!, m), z.unknown(), { file: FILE });
      checkBuildable(parseModelConfig(json, { file: FILE }));
      return 'accepted';
    },
    isClearError: (error) => LoraError.isInstance(error) && error.message.includes(FILE),
  });
  expect(report.crashed, JSON.stringify(report.failures.slice(0, 5), null, 2)).toBe(0);
  expect(report.hung).toBe(0);
});
