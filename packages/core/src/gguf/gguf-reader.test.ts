import { existsSync } from 'node:fs';
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AssetNotFoundError } from '../errors/asset-not-found-error.js';
import { FileFormatError } from '../errors/file-format-error.js';
import { GgmlType, ggmlTypeInfo } from './ggml-types.js';
import { openGguf, readGguf, type GgufByteSource } from './gguf-reader.js';

/** Little-endian byte writer for hand-built GGUF files. */
class Bytes {
  private parts: number[] = [];
  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }
  u32(v: number): this {
    for (let i = 0; i < 4; i++) this.parts.push((v >>> (8 * i)) & 0xff);
    return this;
  }
  u64(v: number | bigint): this {
    const b = BigInt(v);
    for (let i = 0n; i < 8n; i++) this.parts.push(Number((b >> (8n * i)) & 0xffn));
    return this;
  }
  f32(v: number): this {
    const a = new Uint8Array(new Float32Array([v]).buffer);
    a.forEach((x) => this.parts.push(x));
    return this;
  }
  str(s: string): this {
    const e = new TextEncoder().encode(s);
    this.u64(e.length);
    e.forEach((x) => this.parts.push(x));
    return this;
  }
  pad(alignment: number): this {
    while (this.parts.length % alignment !== 0) this.parts.push(0);
    return this;
  }
  get length(): number {
    return this.parts.length;
  }
  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

interface TensorSpec {
  name: string;
  dims: number[];
  type: number;
  data: number;
}

/** A valid v3 GGUF: a few metadata types, then tensors laid out back to back (aligned). */
function buildGguf(opts: { alignment?: number; tensors?: TensorSpec[]; extraKv?: (b: Bytes) => number } = {}): Uint8Array {
  const alignment = opts.alignment ?? 32;
  const tensors = opts.tensors ?? [
    { name: 'token_embd.weight', dims: [32, 2], type: GgmlType.Q8_0, data: 68 },
    { name: 'output_norm.weight', dims: [32], type: GgmlType.F32, data: 128 },
  ];
  const b = new Bytes().u32(0x46554747).u32(3).u64(tensors.length);
  const kv = new Bytes();
  let n = 0;
  kv.str('general.architecture').u32(8).str('llama');
  n++;
  kv.str('llama.block_count').u32(4).u32(30);
  n++;
  kv.str('llama.rope.freq_base').u32(6).f32(100000);
  n++;
  kv.str('big.u64')
    .u32(10)
    .u64(2n ** 60n);
  n++;
  kv.str('small.i64')
    .u32(11)
    .u64(-5n & ((1n << 64n) - 1n));
  n++;
  kv.str('flag').u32(7).u8(1);
  n++;
  kv.str('tokens').u32(9).u32(8).u64(2).str('a').str('é');
  n++;
  kv.str('nested').u32(9).u32(9).u64(1).u32(5).u64(2).u32(1).u32(0xffffffff);
  n++;
  if (opts.alignment !== undefined) {
    kv.str('general.alignment').u32(4).u32(alignment);
    n++;
  }
  if (opts.extraKv) n += opts.extraKv(kv);
  b.u64(n);
  const kvBytes = kv.build();
  kvBytes.forEach((x) => b.u8(x));
  let offset = 0;
  for (const t of tensors) {
    b.str(t.name).u32(t.dims.length);
    t.dims.forEach((d) => b.u64(d));
    b.u32(t.type).u64(offset);
    offset += Math.ceil(t.data / alignment) * alignment;
  }
  b.pad(alignment);
  for (let i = 0; i < offset; i++) b.u8(i);
  return b.build();
}

function memory(bytes: Uint8Array, name = 'mem.gguf'): GgufByteSource {
  return { name, size: () => bytes.byteLength, read: async (o, l) => bytes.slice(o, o + l) };
}

async function formatError(bytes: Uint8Array): Promise<FileFormatError> {
  const error = await readGguf(memory(bytes)).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(FileFormatError.isInstance(error), String(error)).toBe(true);
  expect((error as FileFormatError).file).toBe('mem.gguf');
  return error as FileFormatError;
}

describe('readGguf', () => {
  it('parses metadata of every kind and tensor infos with absolute offsets', async () => {
    const bytes = buildGguf();
    const gguf = await readGguf(memory(bytes));
    expect(gguf.version).toBe(3);
    expect(gguf.alignment).toBe(32);
    expect(gguf.dataOffset % 32).toBe(0);
    expect(gguf.metadata['general.architecture']).toBe('llama');
    expect(gguf.metadata['llama.block_count']).toBe(30);
    expect(gguf.metadata['llama.rope.freq_base']).toBe(100000);
    expect(gguf.metadata['big.u64']).toBe(2n ** 60n);
    expect(gguf.metadata['small.i64']).toBe(-5);
    expect(gguf.metadata['flag']).toBe(true);
    expect(gguf.metadata['tokens']).toEqual(['a', 'é']);
    expect(gguf.metadata['nested']).toEqual([[1, -1]]);
    expect(gguf.tensors).toEqual([
      { name: 'token_embd.weight', dims: [32, 2], type: 8, typeName: 'Q8_0', offset: gguf.dataOffset, byteLength: 68 },
      { name: 'output_norm.weight', dims: [32], type: 0, typeName: 'F32', offset: gguf.dataOffset + 96, byteLength: 128 },
    ]);
    expect(gguf.dataOffset + 96 + 128).toBe(bytes.byteLength);
  });

  it('honours general.alignment', async () => {
    const gguf = await readGguf(memory(buildGguf({ alignment: 64 })));
    expect(gguf.alignment).toBe(64);
    expect(gguf.dataOffset % 64).toBe(0);
    expect(gguf.tensors[1]?.offset).toBe(gguf.dataOffset + 128);
  });

  it('rejects a wrong magic and unsupported versions', async () => {
    const bytes = buildGguf();
    const bad = bytes.slice();
    bad[0] = 0x47 ^ 1;
    expect((await formatError(bad)).message).toMatch(/not a GGUF file/);
    for (const version of [0, 1, 99, 0x03000000]) {
      const v = bytes.slice();
      new DataView(v.buffer).setUint32(4, version, true);
      expect((await formatError(v)).message).toMatch(/unsupported GGUF version/);
    }
  });

  it('reports truncation with the key or tensor being read', async () => {
    const bytes = buildGguf({ tensors: [] });
    const e = await formatError(bytes.slice(0, 134));
    expect(e.message).toMatch(/truncated/);
    expect(e.field).toBe('llama.rope.freq_base');
  });

  it('bounds counts and lengths by the file size', async () => {
    const bytes = buildGguf();
    const huge = bytes.slice();
    new DataView(huge.buffer).setBigUint64(8, 2n ** 62n, true);
    expect((await formatError(huge)).message).toMatch(/tensor count .* past the end of the file/);
    const hugeString = buildGguf({
      extraKv: (kv) => {
        kv.str('x')
          .u32(8)
          .u64(2n ** 40n);
        return 1;
      },
    });
    const e = await formatError(hugeString);
    expect(e.field).toBe('x');
    expect(e.message).toMatch(/length .* past the end of the file/);
  });

  it('rejects unknown value and ggml types, naming the key or tensor', async () => {
    const unknownValue = buildGguf({
      extraKv: (kv) => {
        kv.str('weird').u32(13).u32(0);
        return 1;
      },
    });
    const e1 = await formatError(unknownValue);
    expect(e1.field).toBe('weird');
    expect(e1.message).toMatch(/unknown metadata value type 13/);
    const unknownType = buildGguf({ tensors: [{ name: 'blk.0.attn_q.weight', dims: [32], type: 4, data: 32 }] });
    const e2 = await formatError(unknownType);
    expect(e2.field).toBe('blk.0.attn_q.weight');
    expect(e2.message).toMatch(/unknown ggml type 4/);
  });

  it('rejects tensor data outside the file, misaligned offsets and bad block multiples', async () => {
    const bytes = buildGguf();
    const e1 = await formatError(bytes.slice(0, bytes.byteLength - 1));
    expect(e1.field).toBe('output_norm.weight');
    expect(e1.message).toMatch(/outside the file/);
    const badBlock = buildGguf({ tensors: [{ name: 't', dims: [31], type: GgmlType.Q8_0, data: 34 }] });
    expect((await formatError(badBlock)).message).toMatch(/not a multiple of the Q8_0 block size 32/);
    const misaligned = bytes.slice();
    // second tensor's offset field is the last 8 bytes before the padding of the tensor infos
    const gguf = await readGguf(memory(bytes));
    const view = new DataView(misaligned.buffer);
    let at = -1;
    for (let i = gguf.dataOffset - 8; i > 0; i--)
      if (view.getBigUint64(i, true) === 96n) {
        at = i;
        break;
      }
    view.setBigUint64(at, 100n, true);
    const e3 = await formatError(misaligned);
    expect(e3.field).toBe('output_norm.weight');
    expect(e3.message).toMatch(/not a multiple of the alignment/);
  });

  it('rejects duplicate keys and a bad alignment', async () => {
    const dup = buildGguf({
      extraKv: (kv) => {
        kv.str('flag').u32(7).u8(0);
        return 1;
      },
    });
    expect((await formatError(dup)).message).toMatch(/duplicate metadata key "flag"/);
    const badAlign = buildGguf({
      extraKv: (kv) => {
        kv.str('general.alignment').u32(4).u32(24);
        return 1;
      },
    });
    expect((await formatError(badAlign)).message).toMatch(/power-of-two/);
  });

  it('exposes the ggml type table', () => {
    expect(ggmlTypeInfo(GgmlType.Q4_K)).toEqual({ id: 12, name: 'Q4_K', blockSize: 256, typeSize: 144 });
    expect(ggmlTypeInfo(GgmlType.Q6_K)?.typeSize).toBe(210);
    expect(ggmlTypeInfo(4)).toBeUndefined();
  });
});

describe('openGguf', () => {
  it('reads a file on disk and maps a missing file to AssetNotFoundError', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gguf-'));
    try {
      const path = join(dir, 'a.gguf');
      await writeFile(path, buildGguf());
      const gguf = await openGguf(path);
      expect(gguf.file).toBe(path);
      expect(gguf.tensors).toHaveLength(2);
      await writeFile(path, buildGguf().slice(0, 10));
      await expect(openGguf(path)).rejects.toSatisfy((e: unknown) => FileFormatError.isInstance(e) && e.file === path);
      await expect(openGguf(join(dir, 'missing.gguf'))).rejects.toSatisfy((e: unknown) => AssetNotFoundError.isInstance(e));
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  const smol = join(process.env.LORA_ASSETS_DIR ?? '', 'models/SmolLM2-135M-Instruct/SmolLM2-135M-Instruct.Q4_1.gguf');
  it.skipIf(!process.env.LORA_ASSETS_DIR || !existsSync(smol))('reads the SmolLM2 Q4_1 header (needs LORA_ASSETS_DIR)', async () => {
    const gguf = await openGguf(smol);
    expect(gguf.version).toBe(3);
    expect(gguf.metadata['general.architecture']).toBe('llama');
    expect(gguf.metadata['llama.block_count']).toBe(30);
    expect((gguf.metadata['tokenizer.ggml.tokens'] as string[]).length).toBe(49152);
    expect(gguf.tensors).toHaveLength(30 * 9 + 2);
    const embd = gguf.tensors.find((t) => t.name === 'token_embd.weight');
    expect(embd).toMatchObject({ dims: [576, 49152], typeName: 'Q8_0', byteLength: (576 * 49152 * 34) / 32 });
    expect(gguf.tensors.filter((t) => t.typeName === 'Q4_1')).toHaveLength(210);
    const last = gguf.tensors.reduce((a, t) => (t.offset > a.offset ? t : a));
    expect(last.offset + last.byteLength).toBeLessThanOrEqual(98_362_432);
  });
});
