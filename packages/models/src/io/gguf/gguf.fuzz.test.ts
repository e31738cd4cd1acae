// Fuzzing the GGUF import (run by `pnpm fuzz`): files written by gguf-py (fixtures/gguf/blocks,
// every supported block type; fixtures/gguf/tiny-llama, a whole model) are mutated byte by byte
// (edits, truncation, insertion), by overwriting aligned integers of the header with hostile
// values (counts, lengths, types, dims, offsets), and then opened the way `loadModel` opens a GGUF:
// header, config conversion and validation, every tensor dequantized. Each case must succeed or
// fail with a @lora error naming the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoraError } from '@lora/core';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { byteMutation, runFuzz } from '../../../../../tools/fuzz/harness.js';
import { parseModelConfig } from '../../config/model-config.js';
import { ggufToHfConfig } from './gguf-config.js';
import { GgufWeightSource } from './gguf-weight-source.js';

const FIXTURES = join(import.meta.dirname, '../../../../../fixtures/gguf');
const BASES = ['blocks/blocks.gguf', 'tiny-llama/tiny-llama.gguf'].map((f) => new Uint8Array(readFileSync(join(FIXTURES, f))));
const dir = mkdtempSync(join(tmpdir(), 'lora-fuzz-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Where the header ends in the smaller fixture: integer overwrites stay in that range. */
const HEADER_BYTES = 4096;
const HOSTILE_INTS = [
  0n,
  1n,
  2n,
  3n,
  7n,
  8n,
  9n,
  13n,
  31n,
  255n,
  2n ** 31n,
  2n ** 32n - 1n,
  2n ** 32n,
  2n ** 53n,
  2n ** 63n,
  2n ** 64n - 1n,
];

type Mutation = { kind: 'bytes'; mutate: (b: Uint8Array) => Uint8Array } | { kind: 'int'; at: number; width: 4 | 8; value: bigint };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 2, arbitrary: byteMutation(HEADER_BYTES).map((mutate) => ({ kind: 'bytes' as const, mutate })) },
  { weight: 1, arbitrary: byteMutation(BASES[1]!.length).map((mutate) => ({ kind: 'bytes' as const, mutate })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('int' as const),
      at: fc.nat({ max: HEADER_BYTES / 4 - 2 }).map((i) => i * 4),
      width: fc.constantFrom(4 as const, 8 as const),
      value: fc.oneof(fc.constantFrom(...HOSTILE_INTS), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
    }),
  },
);

function apply(base: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === 'bytes') return m.mutate(base);
  const out = base.slice();
  const v = new DataView(out.buffer);
  if (m.at + m.width > out.length) return out;
  if (m.width === 4) v.setUint32(m.at, Number(m.value & 0xffffffffn), true);
  else v.setBigUint64(m.at, m.value, true);
  return out;
}

it('GGUF: mutated gguf-py files import, or fail naming the file', async () => {
  const report = await runFuzz({
    name: 'gguf',
    runs: 2000,
    seed: 42,
    arbitrary: fc.tuple(fc.nat({ max: BASES.length - 1 }), mutation),
    describe: ([b, m]) => `base ${b} ${m.kind === 'int' ? `u${m.width * 8}@${m.at}=${m.value}` : 'bytes'}`,
    async run([b, m], index) {
      const file = join(dir, `case-${index}.gguf`);
      writeFileSync(file, apply(BASES[b]!, m));
      try {
        const weights = await GgufWeightSource.open(file);
        try {
          if (b === 1) parseModelConfig(ggufToHfConfig(weights.gguf), { file });
          for (const key of weights.keys()) await weights.get(key);
        } finally {
          await weights.close();
        }
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
