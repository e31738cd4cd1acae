import { readFileSync } from 'node:fs';
import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { BlobFileSource, MemoryFileSource, type FileSource } from './file-source.js';
import { FIXTURES_DIR, fixtures } from './__fixtures__/safetensors-fixtures.js';
import { SafetensorsReader } from './safetensors-reader.js';

/** Wraps a source and records every read, to prove reads are per tensor. */
class CountingSource implements FileSource {
  readonly reads: Array<[number, number]> = [];
  constructor(private readonly inner: FileSource) {}
  get name(): string {
    return this.inner.name;
  }
  size(): number {
    return this.inner.size();
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    this.reads.push([offset, length]);
    return this.inner.read(offset, length);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
  get bytesRead(): number {
    return this.reads.reduce((sum, [, n]) => sum + n, 0);
  }
}

function headerOf(bytes: Uint8Array): Record<string, unknown> {
  const n = Number(Buffer.from(bytes).readBigUInt64LE(0));
  return JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString('utf8')) as Record<string, unknown>;
}

describe('SafetensorsReader', () => {
  it('reads metadata and lists tensors in file order', async () => {
    const path = `${FIXTURES_DIR}metadata.safetensors`;
    const header = headerOf(readFileSync(path));
    const reader = await SafetensorsReader.open(path);
    try {
      expect(reader.metadata()).toEqual({ format: 'pt' });
      expect(reader.keys()).toEqual(Object.keys(header).filter((k) => k !== '__metadata__'));
      expect(new Set(reader.keys())).toEqual(new Set(Object.keys(fixtures['metadata.safetensors'].tensors)));
      expect(reader.shape('é')).toEqual(fixtures['metadata.safetensors'].tensors['é']?.shape);
      expect(reader.dtype('a')).toBe(fixtures['metadata.safetensors'].tensors.a?.dtype);
      expect(reader.has('nope')).toBe(false);
    } finally {
      await reader.close();
    }
    const plain = await SafetensorsReader.open(`${FIXTURES_DIR}dtypes.safetensors`);
    expect(plain.metadata()).toBeUndefined();
    await plain.close();
  });

  it('reads only the header on open and only the tensor bytes on get', async () => {
    const bytes = readFileSync(`${FIXTURES_DIR}dtypes.safetensors`);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const source = new CountingSource(new MemoryFileSource(bytes, 'dtypes.safetensors'));
    const reader = await SafetensorsReader.open(source);
    expect(source.bytesRead).toBe(8 + headerLength);
    const t = await reader.get('float.bf16');
    expect(source.bytesRead).toBe(8 + headerLength + t.data.length * 2);
    expect(source.reads.at(-1)?.[1]).toBe(t.data.length * 2);
    await reader.close();
  });

  it('returns raw U8 bytes exactly as stored', async () => {
    const bytes = readFileSync(`${FIXTURES_DIR}dtypes.safetensors`);
    const header = headerOf(bytes) as Record<string, { data_offsets: [number, number] }>;
    const start = 8 + Number(bytes.readBigUInt64LE(0));
    const [b, e] = header['int.u8']?.data_offsets ?? [0, 0];
    const reader = await SafetensorsReader.open(new BlobFileSource(new Blob([bytes])));
    const raw = await reader.getRaw('int.u8');
    expect(raw.dtype).toBe('U8');
    expect(Buffer.from(raw.bytes).equals(bytes.subarray(start + b, start + e))).toBe(true);
    await reader.close();
  });

  it('names file and tensor when a tensor is missing', async () => {
    const reader = await SafetensorsReader.open(`${FIXTURES_DIR}dtypes.safetensors`);
    await expect(reader.get('model.missing')).rejects.toThrow(/dtypes\.safetensors \(model\.missing\): no tensor named/);
    expect(() => reader.shape('model.missing')).toThrow(FileFormatError);
    await reader.close();
  });

  it('reports a missing file as AssetNotFoundError', async () => {
    await expect(SafetensorsReader.open(`${FIXTURES_DIR}nope.safetensors`)).rejects.toSatisfy(AssetNotFoundError.isInstance);
  });

  describe('rejects every corrupt file the reference rejects', () => {
    for (const [name, expected] of Object.entries(fixtures.corrupt)) {
      it(`${name} (reference: ${expected.reference.replace(/^Error while deserializing header: /, '').slice(0, 60)})`, async () => {
        const path = `${FIXTURES_DIR}corrupt/${name}`;
        const error = await SafetensorsReader.open(path).then(
          (r) => r.close().then(() => undefined),
          (e: unknown) => e,
        );
        expect(FileFormatError.isInstance(error)).toBe(true);
        const e = error as FileFormatError;
        expect(e.file).toBe(path);
        expect(e.message.startsWith(path)).toBe(true);
        expect(e.field).toBe(expected.tensor ?? undefined);
        if (expected.tensor !== null) expect(e.message).toContain(`(${expected.tensor})`);
        expect(e.message).toMatch(new RegExp(expected.message, 'i'));
      });
    }
  });
});
