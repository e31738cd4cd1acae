// Bit-exact parity with gguf-py's `gguf.quants.dequantize` on fixtures written by
// tools/parity/gguf/make_fixtures.py (fixtures/gguf/blocks.*).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { GgmlType, openGguf } from '@lora/core/internal';
import { describe, expect, it } from 'vitest';
import { dequantizeGgml } from './dequantize.js';

const DIR = join(import.meta.dirname, '../../../../../fixtures/gguf/blocks');
interface Entry {
  name: string;
  type: number;
  shape: number[];
  offset: number;
  count: number;
}
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8')) as { tensors: Entry[] };
const expectedAll = new Uint8Array(readFileSync(join(DIR, 'expected.f32')));

describe('dequantizeGgml', async () => {
  const file = join(DIR, 'blocks.gguf');
  const gguf = await openGguf(file);
  const bytes = new Uint8Array(readFileSync(file));

  it.each(index.tensors.map((t) => [t.name, t] as const))('%s matches gguf-py bit for bit', (_name, entry) => {
    const info = gguf.tensors.find((t) => t.name === entry.name);
    expect(info?.type).toBe(entry.type);
    expect([...(info?.dims ?? [])].reverse()).toEqual(entry.shape);
    const raw = bytes.subarray(info!.offset, info!.offset + info!.byteLength);
    const got = dequantizeGgml(raw, entry.type, entry.count, { file, tensor: entry.name });
    const want = expectedAll.subarray(entry.offset * 4, (entry.offset + entry.count) * 4);
    const gotBytes = new Uint8Array(got.buffer);
    let mismatches = 0;
    for (let i = 0; i < want.byteLength; i++) if (gotBytes[i] !== want[i]) mismatches++;
    expect(mismatches).toBe(0);
  });

  it('names the tensor and type it cannot decode', () => {
    const e = (() => {
      try {
        dequantizeGgml(new Uint8Array(84), GgmlType.Q2_K, 256, { file: 'x.gguf', tensor: 'blk.3.ffn_up.weight' });
      } catch (error) {
        return error;
      }
    })();
    expect(FileFormatError.isInstance(e)).toBe(true);
    expect((e as FileFormatError).field).toBe('blk.3.ffn_up.weight');
    expect((e as Error).message).toMatch(/Q2_K/);
  });

  it('rejects a byte length that does not match the element count', () => {
    expect(() => dequantizeGgml(new Uint8Array(33), GgmlType.Q8_0, 32, { file: 'x.gguf', tensor: 't' })).toThrow(/need 34 bytes/);
  });
});
