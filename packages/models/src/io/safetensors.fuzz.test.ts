// Fuzzing the safetensors reader (run by `pnpm fuzz`): real files written by the Python
// `safetensors` library (fixtures/safetensors/dtypes.safetensors, every dtype; a PEFT adapter),
// mutated structurally (header JSON edits: dtype, shape, data_offsets, metadata, extra keys),
// through the 8-byte header length, and byte by byte (edits, truncation, insertion). Every case
// must open and read every tensor, or fail with a FileFormatError naming the file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoraError } from '@lora/core';
import fc from 'fast-check';
import { afterAll, expect, it } from 'vitest';
import { type JsonEdit, applyJsonEdits, byteMutation, jsonEdits, runFuzz } from '../../../../tools/fuzz/harness.js';
import { SafetensorsReader } from './safetensors-reader.js';

const FIXTURES = join(import.meta.dirname, '../../../../fixtures');
const BASES = [join(FIXTURES, 'safetensors/dtypes.safetensors'), join(FIXTURES, 'peft/llama-lora/adapter_model.safetensors')].map(
  (file) => new Uint8Array(readFileSync(file)),
);
const dir = mkdtempSync(join(tmpdir(), 'lora-fuzz-safetensors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Mutation =
  | { kind: 'header'; edits: JsonEdit[] }
  | { kind: 'length'; value: bigint }
  | { kind: 'bytes'; mutate: (b: Uint8Array) => Uint8Array; label: string };

function headerOf(bytes: Uint8Array): { json: unknown; end: number } {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))), end: 8 + n };
}

function withHeader(bytes: Uint8Array, json: unknown, end: number): Uint8Array {
  const header = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(8 + header.length + bytes.length - end);
  new DataView(out.buffer).setBigUint64(0, BigInt(header.length), true);
  out.set(header, 8);
  out.set(bytes.subarray(end), 8 + header.length);
  return out;
}

function mutate(base: Uint8Array, m: Mutation): Uint8Array {
  if (m.kind === 'header') {
    const { json, end } = headerOf(base);
    return withHeader(base, applyJsonEdits(json, m.edits), end);
  }
  if (m.kind === 'length') {
    const out = base.slice();
    new DataView(out.buffer).setBigUint64(0, m.value, true);
    return out;
  }
  return m.mutate(base);
}

const maxLength = Math.max(...BASES.map((b) => b.length));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: jsonEdits(3).map((edits) => ({ kind: 'header' as const, edits })) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((value) => ({ kind: 'length' as const, value })) },
  // Byte edits near the start hit the header, where the parser works; the rest reach tensor data.
  { weight: 2, arbitrary: byteMutation(400).map((f) => ({ kind: 'bytes' as const, mutate: f, label: 'header bytes' })) },
  { weight: 1, arbitrary: byteMutation(maxLength).map((f) => ({ kind: 'bytes' as const, mutate: f, label: 'bytes' })) },
);

it('safetensors: mutated real files open and read, or fail naming the file', async () => {
  const report = await runFuzz({
    name: 'safetensors',
    runs: 2500,
    seed: 41,
    arbitrary: fc.tuple(fc.nat({ max: BASES.length - 1 }), mutation),
    describe: ([b, m]) =>
      `base ${b} ${m.kind === 'header' ? JSON.stringify(m.edits) : m.kind === 'length' ? `length=${m.value}` : m.label}`,
    async run([b, m], index) {
      const file = join(dir, `case-${index}.safetensors`);
      writeFileSync(file, mutate(BASES[b]!, m));
      try {
        const reader = await SafetensorsReader.open(file);
        try {
          for (const key of reader.keys()) await reader.get(key);
        } finally {
          await reader.close();
        }
        return 'accepted';
      } finally {
        rmSync(file, { force: true });
      }
    },
    isClearError: (error, [b]) => LoraError.isInstance(error) && error.message.includes('case-') && b >= 0,
  });
  expect(report.crashed, JSON.stringify(report.failures.slice(0, 5), null, 2)).toBe(0);
  expect(report.hung).toBe(0);
});
