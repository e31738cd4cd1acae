import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InvalidArgumentError } from '@lora/core';
import { afterAll, describe, expect, it } from 'vitest';
import { MemoryFileSource } from './file-source.js';
import { FIXTURES_DIR, TENSOR_FILES, fixtures, inputData } from './__fixtures__/safetensors-fixtures.js';
import { SafetensorsReader } from './safetensors-reader.js';
import { serializeSafetensors, writeSafetensors, type TensorToWrite } from './safetensors-writer.js';

function inputsOf(file: (typeof TENSOR_FILES)[number]): Record<string, TensorToWrite> {
  return Object.fromEntries(Object.entries(fixtures[file].tensors).map(([name, t]) => [name, inputData(t)]));
}

function metadataOf(file: (typeof TENSOR_FILES)[number]): { metadata?: Record<string, string> } {
  const metadata = fixtures[file].metadata;
  return metadata === null ? {} : { metadata };
}

function headerOf(bytes: Uint8Array): { length: number; json: Record<string, unknown> } {
  const length = Number(Buffer.from(bytes).readBigUInt64LE(0));
  return { length, json: JSON.parse(Buffer.from(bytes.subarray(8, 8 + length)).toString('utf8')) };
}

const tmp = mkdtempSync(join(tmpdir(), 'lora-safetensors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('serializeSafetensors', () => {
  for (const file of TENSOR_FILES) {
    const python = readFileSync(`${FIXTURES_DIR}${file}`);
    if (fixtures[file].byteExact) {
      it(`writes ${file} byte for byte as Python safetensors does`, () => {
        const ours = serializeSafetensors(inputsOf(file), metadataOf(file));
        expect(Buffer.from(ours).toString('latin1')).toBe(python.toString('latin1'));
      });
    } else {
      it(`writes ${file} equal to Python's up to __metadata__ key order`, () => {
        const ours = serializeSafetensors(inputsOf(file), metadataOf(file));
        const [a, b] = [headerOf(ours), headerOf(python)];
        expect(a.length).toBe(b.length);
        expect(a.json).toEqual(b.json);
        expect(Buffer.from(ours.subarray(8 + a.length)).equals(python.subarray(8 + b.length))).toBe(true);
      });
    }
  }

  it('round-trips through the reader', async () => {
    const inputs = inputsOf('dtypes.safetensors');
    const reader = await SafetensorsReader.open(new MemoryFileSource(serializeSafetensors(inputs, { metadata: { a: 'b' } })));
    const original = await SafetensorsReader.open(`${FIXTURES_DIR}dtypes.safetensors`);
    try {
      expect(reader.metadata()).toEqual({ a: 'b' });
      expect(reader.keys()).toEqual(original.keys());
      for (const name of original.keys()) expect(await reader.get(name), name).toEqual(await original.get(name));
    } finally {
      await Promise.all([reader.close(), original.close()]);
    }
  });

  it('pads an empty file header to 8 bytes', () => {
    expect(Buffer.from(serializeSafetensors({})).toString('latin1')).toBe('\x08\0\0\0\0\0\0\0{}      ');
  });

  it('rejects bad input naming the tensor', () => {
    const f = new Float32Array(4);
    expect(() => serializeSafetensors({ w: { dtype: 'F32', shape: [3], data: f } })).toThrow(/tensors\["w"\].*4 elements.*needs 3/);
    expect(() => serializeSafetensors({ w: { dtype: 'F32', shape: [-4], data: f } })).toThrow(InvalidArgumentError);
    expect(() => serializeSafetensors({ w: { dtype: 'U8', shape: [3], bytes: new Uint8Array(4) } })).toThrow(/needs 3/);
    expect(() => serializeSafetensors({ __metadata__: { dtype: 'F32', shape: [4], data: f } })).toThrow(/reserved/);
  });
});

describe('writeSafetensors', () => {
  it('writes the same bytes to disk, atomically, leaving no temporary file', async () => {
    const path = join(tmp, 'metadata.safetensors');
    await writeSafetensors(path, inputsOf('metadata.safetensors'), metadataOf('metadata.safetensors'));
    expect(readFileSync(path).equals(readFileSync(`${FIXTURES_DIR}metadata.safetensors`))).toBe(true);
    await writeSafetensors(path, { x: { dtype: 'I32', shape: [1], data: Int32Array.of(7) } }); // overwrite
    expect(await SafetensorsReader.open(path).then(async (r) => [r.keys(), await r.close()][0])).toEqual(['x']);
    expect(readdirSync(tmp)).toEqual(['metadata.safetensors']);
  });

  it('leaves the old file and no temporary file when encoding fails', async () => {
    const path = join(tmp, 'keep.safetensors');
    await writeSafetensors(path, { a: { dtype: 'U8', shape: [1], data: Uint8Array.of(1) } });
    const before = readFileSync(path);
    await expect(writeSafetensors(path, { a: { dtype: 'U8', shape: [1], data: Int32Array.of(300) } })).rejects.toThrow(
      /out of range for U8/,
    );
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(tmp).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});
