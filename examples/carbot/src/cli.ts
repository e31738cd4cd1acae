#!/usr/bin/env node
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { InvalidArgumentError } from '@lora/core';
import { carbotJsonSchema } from './catalog.js';
import { generateCarbotExamples } from './generate.js';
import { splitCarbotExamples } from './split.js';

/*
 * Writes a CarBot data set:
 *   node dist/cli.js --n 2000 --seed 42 --out data/ [--no-system]
 * → data/train.jsonl, validation.jsonl, test.jsonl (one CarbotExample per line),
 *   data/splits.json (per-intent counts), data/action.schema.json (JSON Schema of the action).
 */
const { values } = parseArgs({
  options: {
    n: { type: 'string', default: '2000' },
    seed: { type: 'string', default: '42' },
    out: { type: 'string', default: 'data' },
    'no-system': { type: 'boolean', default: false },
  },
});
const n = Number(values.n);
const seed = Number(values.seed);
if (!Number.isInteger(n) || n < 1)
  throw new InvalidArgumentError({ argument: '--n', message: `must be a positive integer, got ${values.n}` });
if (!Number.isInteger(seed)) throw new InvalidArgumentError({ argument: '--seed', message: `must be an integer, got ${values.seed}` });

const started = performance.now();
const examples = generateCarbotExamples({ n, seed, ...(values['no-system'] ? { system: null } : {}) });
const { splits, strata, counts } = splitCarbotExamples(examples, seed);
mkdirSync(values.out, { recursive: true });
for (const [name, rows] of Object.entries(splits)) {
  writeFileSync(join(values.out, `${name}.jsonl`), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
}
writeFileSync(join(values.out, 'splits.json'), JSON.stringify({ n, seed, counts, intents: strata }, null, 2) + '\n');
writeFileSync(join(values.out, 'action.schema.json'), JSON.stringify(carbotJsonSchema(), null, 2) + '\n');

const pad = (s: string | number, w: number) => String(s).padStart(w);
console.log(`${'intent'.padEnd(30)} ${pad('train', 6)} ${pad('val', 6)} ${pad('test', 6)}`);
for (const s of strata)
  console.log(`${s.stratum.padEnd(30)} ${pad(s.counts.train, 6)} ${pad(s.counts.validation, 6)} ${pad(s.counts.test, 6)}`);
console.log(`${'total'.padEnd(30)} ${pad(counts.train, 6)} ${pad(counts.validation, 6)} ${pad(counts.test, 6)}`);
console.log(`wrote ${examples.length} examples to ${values.out} in ${((performance.now() - started) / 1000).toFixed(2)} s`);
