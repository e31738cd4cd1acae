// Bounded, seeded mutations of a small valid GGUF written by gguf-py's GGUFWriter
// (fixtures/gguf/blocks/blocks.gguf, tools/parity/gguf/make_fixtures.py): every targeted mutation
// must be rejected with a FileFormatError naming the file (and the tensor when one is involved);
// random byte edits must either parse or fail that way — never another exception, a hang or a
// huge allocation.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileFormatError } from '../errors/file-format-error.js';
import { Rng } from '../rng.js';
import { readGguf, type GgufByteSource, type GgufFile } from './gguf-reader.js';

const FILE = join(import.meta.dirname, '../../../../fixtures/gguf/blocks/blocks.gguf');
const ORIGINAL = new Uint8Array(readFileSync(FILE));
const NAME = 'fuzz.gguf';

/** Byte offsets of every header field of the fixture, found by walking it independently. */
interface Layout {
  kvs: { key: string; keyLength: number; type: number; value: number }[];
  tensors: { name: string; nameLength: number; nDims: number; dims: number[]; type: number; offset: number }[];
  headerEnd: number;
}

function layout(bytes: Uint8Array): Layout {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let p = 8;
  const u32 = () => {
    p += 4;
    return v.getUint32(p - 4, true);
  };
  const u64 = () => {
    p += 8;
    return Number(v.getBigUint64(p - 8, true));
  };
  const str = () => {
    const n = u64();
    p += n;
    return new TextDecoder().decode(bytes.subarray(p - n, p));
  };
  const size = [1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8];
  const skip = (type: number): void => {
    if (type === 8) {
      str();
      return;
    }
    if (type === 9) {
      const item = u32();
      const n = u64();
      for (let i = 0; i < n; i++) skip(item);
      return;
    }
    p += size[type]!;
  };
  const nTensors = u64();
  const nKv = u64();
  const kvs: Layout['kvs'] = [];
  for (let i = 0; i < nKv; i++) {
    const keyLength = p;
    const key = str();
    const type = p;
    const t = u32();
    const value = p;
    skip(t);
    kvs.push({ key, keyLength, type, value });
  }
  const tensors: Layout['tensors'] = [];
  for (let i = 0; i < nTensors; i++) {
    const nameLength = p;
    const name = str();
    const nDims = p;
    const n = u32();
    const dims = Array.from({ length: n }, (_, d) => p + 8 * d);
    p += 8 * n;
    tensors.push({ name, nameLength, nDims, dims, type: p, offset: p + 4 });
    p += 12;
  }
  return { kvs, tensors, headerEnd: p };
}

function source(bytes: Uint8Array): GgufByteSource {
  return { name: NAME, size: () => bytes.byteLength, read: async (o, l) => bytes.slice(o, o + l) };
}

async function outcome(bytes: Uint8Array): Promise<GgufFile | FileFormatError> {
  try {
    return await readGguf(source(bytes));
  } catch (error) {
    if (!FileFormatError.isInstance(error)) throw new Error(`not a FileFormatError: ${String(error)}`, { cause: error });
    expect(error.file).toBe(NAME);
    return error;
  }
}

async function rejects(bytes: Uint8Array, field?: string | RegExp): Promise<FileFormatError> {
  const result = await outcome(bytes);
  expect(FileFormatError.isInstance(result), 'expected a FileFormatError').toBe(true);
  const error = result as FileFormatError;
  if (typeof field === 'string') expect(error.field, error.message).toBe(field);
  else if (field !== undefined) expect(error.field ?? '', error.message).toMatch(field);
  return error;
}

function edit(f: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = ORIGINAL.slice();
  f(new DataView(bytes.buffer), bytes);
  return bytes;
}

const L = layout(ORIGINAL);

describe('GGUF reader fuzzing (fixtures/gguf/blocks/blocks.gguf)', () => {
  it('reads the unmutated fixture as gguf-py wrote it', async () => {
    const gguf = await readGguf(source(ORIGINAL));
    expect(gguf.metadata['general.architecture']).toBe('blocks-test');
    expect(gguf.metadata['test.strings']).toEqual(['a', 'bc', 'déf']);
    expect(gguf.metadata['test.ints']).toEqual([1, -2, 3]);
    expect(gguf.metadata['test.u64']).toBe(2n ** 60n);
    expect(gguf.metadata['test.f64']).toBe(0.1);
    expect(gguf.metadata['test.bool']).toBe(true);
    expect(gguf.tensors.map((t) => t.typeName)).toEqual([
      'F32',
      'F16',
      'BF16',
      'Q8_0',
      'Q4_0',
      'Q4_1',
      'Q5_0',
      'Q5_1',
      'Q4_K',
      'Q5_K',
      'Q6_K',
    ]);
    // absolute offsets and sizes as gguf-py's GGUFReader reports them (data_offset, n_bytes)
    expect(gguf.tensors[0]).toMatchObject({ offset: 864, byteLength: 8192 });
    expect(gguf.tensors[10]).toMatchObject({ offset: 27360, byteLength: 1680 });
    expect(L.tensors).toHaveLength(11);
  });

  it('truncation anywhere before the end of the last tensor is rejected', async () => {
    const { tensors } = await readGguf(source(ORIGINAL));
    const end = 27360 + 1680;
    const cuts = new Set<number>();
    for (let i = 0; i <= L.headerEnd + 8; i++) cuts.add(i); // every header byte
    const rng = new Rng(1);
    for (let i = 0; i < 40; i++) cuts.add(L.headerEnd + 8 + rng.nextInt(end - L.headerEnd - 8));
    cuts.add(end - 1);
    for (const cut of cuts) {
      const error = await rejects(ORIGINAL.slice(0, cut));
      // past the header: the first tensor whose data no longer fits is named
      if (cut > L.headerEnd + 8) expect(error.field).toBe(tensors.find((t) => t.offset + t.byteLength > cut)!.name);
    }
    expect(cuts.size).toBeGreaterThan(850);
  });

  it('wrong magic and unsupported versions', async () => {
    for (let i = 0; i < 4; i++) {
      for (const x of [0, 0x20, 0xff])
        await rejects(
          edit((_, b) => {
            b[i] = x;
          }),
        );
    }
    for (const version of [0, 1, 4, 99, 0x03000000, 0xffffffff]) {
      const error = await rejects(edit((v) => v.setUint32(4, version, true)));
      expect(error.message).toMatch(/unsupported GGUF version/);
    }
  });

  it('huge or impossible counts and lengths', async () => {
    const huge = [2n ** 64n - 1n, 2n ** 63n, 2n ** 53n, 2n ** 40n, BigInt(ORIGINAL.byteLength), BigInt(ORIGINAL.byteLength) - 20n];
    for (const n of huge) {
      await rejects(edit((v) => v.setBigUint64(8, n, true))); // tensor count
      await rejects(edit((v) => v.setBigUint64(16, n, true))); // kv count
      for (const kv of L.kvs) {
        await rejects(
          edit((v) => v.setBigUint64(kv.keyLength, n, true)),
          /^metadata\[\d+\]$/,
        );
        if (kv.key === 'test.strings' || kv.key === 'test.ints') {
          await rejects(
            edit((v) => v.setBigUint64(kv.value + 4, n, true)),
            kv.key,
          ); // array length
        }
        if (kv.key === 'test.note')
          await rejects(
            edit((v) => v.setBigUint64(kv.value, n, true)),
            kv.key,
          ); // string length
      }
      for (const t of L.tensors.slice(0, 3))
        await rejects(
          edit((v) => v.setBigUint64(t.nameLength, n, true)),
          /^tensor\[\d+\]$/,
        );
    }
  });

  it('unknown value types, array item types and nesting', async () => {
    for (const kv of L.kvs) {
      for (const type of [13, 99, 0xffffffff]) {
        const error = await rejects(
          edit((v) => v.setUint32(kv.type, type, true)),
          kv.key,
        );
        expect(error.message).toMatch(/unknown metadata value type/);
      }
    }
    const strings = L.kvs.find((k) => k.key === 'test.strings')!;
    await rejects(
      edit((v) => v.setUint32(strings.value, 77, true)),
      'test.strings',
    );
  });

  it('unknown ggml types, bad dims, data offsets past the end or misaligned (naming the tensor)', async () => {
    for (const t of L.tensors) {
      for (const type of [4, 5, 31, 33, 36, 42, 1000, 0xffffffff]) {
        const error = await rejects(
          edit((v) => v.setUint32(t.type, type, true)),
          t.name,
        );
        expect(error.message).toMatch(/unknown ggml type/);
      }
      for (const offset of [BigInt(ORIGINAL.byteLength), 2n ** 60n, 2n ** 64n - 32n]) {
        await rejects(
          edit((v) => v.setBigUint64(t.offset, offset, true)),
          t.name,
        );
      }
      await rejects(
        edit((v) => v.setBigUint64(t.offset, v.getBigUint64(t.offset, true) + 1n, true)),
        t.name,
      );
      for (const dim of [2n ** 40n, 2n ** 63n, 2n ** 64n - 1n, 2n ** 26n + 256n]) {
        await rejects(
          edit((v) => {
            v.setBigUint64(t.dims[0]!, dim, true);
            v.setBigUint64(t.dims[1]!, dim, true);
          }),
          t.name,
        );
      }
      for (const n of [5, 1000, 0xffffffff])
        await rejects(
          edit((v) => v.setUint32(t.nDims, n, true)),
          t.name,
        );
    }
  });

  it('random byte edits of the header parse or fail with a FileFormatError', async () => {
    const rng = new Rng(2024);
    let failures = 0;
    for (let i = 0; i < 300; i++) {
      const bytes = ORIGINAL.slice();
      const edits = 1 + rng.nextInt(4);
      for (let e = 0; e < edits; e++) bytes[rng.nextInt(L.headerEnd)] = rng.nextInt(256);
      const result = await outcome(bytes);
      if (FileFormatError.isInstance(result)) failures++;
    }
    expect(failures).toBeGreaterThan(30);
  });
});
