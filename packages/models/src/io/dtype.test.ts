import { FileFormatError, InvalidArgumentError } from '@lora/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeTensor, encodeTensor, float32BitsToBFloat16Bits, float32BitsToFloat16Bits } from './dtype.js';
import { FIXTURES_DIR, fixtures, inputData, type FixtureTensor } from './__fixtures__/safetensors-fixtures.js';
import { SafetensorsReader } from './safetensors-reader.js';

const dtypes = fixtures['dtypes.safetensors'].tensors;

/** Bit patterns of decoded data, so NaN payloads and -0 compare exactly. */
function bits(data: Float32Array | Int32Array | Uint8Array): number[] {
  return data instanceof Float32Array ? [...new Uint32Array(data.buffer, data.byteOffset, data.length)] : [...data];
}

describe('decodeTensor (vs torch/numpy)', () => {
  let reader: SafetensorsReader;
  beforeAll(async () => {
    reader = await SafetensorsReader.open(`${FIXTURES_DIR}dtypes.safetensors`);
  });
  afterAll(() => reader.close());

  it('covers every decodable dtype', () => {
    expect(new Set(Object.values(dtypes).map((t) => t.dtype))).toEqual(
      new Set(['F64', 'F32', 'F16', 'BF16', 'F8_E4M3', 'F8_E5M2', 'I64', 'I32', 'I16', 'I8', 'U64', 'U32', 'U16', 'U8', 'BOOL']),
    );
  });

  for (const [name, t] of Object.entries(dtypes)) {
    it(`decodes ${name} (${t.dtype}) exactly`, async () => {
      const host = await reader.get(name);
      expect(host.shape).toEqual(t.shape);
      expect(host.dtype).toBe(t.expected.dtype);
      const expected = t.expected.dtype === 'float32' ? t.expected.bits : 'values' in t.expected ? t.expected.values : [];
      expect(bits(host.data)).toEqual(expected);
    });
  }

  it('rejects integers that do not fit int32, naming file and tensor; raw bytes still read', async () => {
    const file = `${FIXTURES_DIR}int_overflow.safetensors`;
    const r = await SafetensorsReader.open(file);
    try {
      for (const [name, t] of Object.entries(fixtures['int_overflow.safetensors'].tensors)) {
        const error = await r.get(name).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(FileFormatError.isInstance(error), name).toBe(true);
        expect((error as FileFormatError).file).toBe(file);
        expect((error as FileFormatError).field).toBe(name);
        expect((error as Error).message).toMatch(/does not fit int32.*getRaw/);
        const raw = await r.getRaw(name);
        expect(raw.dtype).toBe(t.dtype);
        expect(Buffer.from(raw.bytes).toString('hex')).toBe(t.input.kind === 'raw' ? t.input.hex : '');
      }
    } finally {
      await r.close();
    }
  });

  it('refuses dtypes it cannot decode exactly, pointing at getRaw', () => {
    const where = { file: 'x.safetensors', tensor: 'w' };
    for (const dtype of ['C64', 'F8_E8M0', 'F8_E4M3FNUZ'] as const) {
      expect(() => decodeTensor({ dtype, shape: [1], bytes: new Uint8Array(8) }, where)).toThrow(
        /x\.safetensors \(w\): dtype \S+ cannot be decoded .*getRaw/,
      );
    }
  });
});

describe('encodeTensor (vs torch)', () => {
  const floatSources = (t: FixtureTensor): number[] => (t.input.kind === 'f32bits' ? t.input.values : []);

  it.each([
    ['float.f16', float32BitsToFloat16Bits],
    ['float.bf16', float32BitsToBFloat16Bits],
  ] as const)('%s: rounds every float32 source like torch .to()', (name, convert) => {
    const t = dtypes[name] as FixtureTensor;
    const expectedHalf = t.expected.dtype === 'float32' ? t.expected.bits.map((b) => b >>> 16) : [];
    // torch widens halves exactly, so the top 16 bits of the expected float32 are the BF16 bits;
    // for F16 compare the encoded file bytes instead (below).
    if (name === 'float.bf16') expect(floatSources(t).map(convert)).toEqual(expectedHalf);
    const encoded = encodeTensor(t.dtype, new Float32Array(Uint32Array.from(floatSources(t)).buffer), name);
    const again = decodeTensor({ dtype: t.dtype, shape: t.shape, bytes: encoded }, { file: '-', tensor: name });
    expect(bits(again.data)).toEqual(t.expected.dtype === 'float32' ? t.expected.bits : []);
  });

  it('encodes every fixture tensor to the bytes Python wrote', async () => {
    const reader = await SafetensorsReader.open(`${FIXTURES_DIR}dtypes.safetensors`);
    try {
      for (const [name, t] of Object.entries(dtypes)) {
        const input = inputData(t);
        const bytes = 'bytes' in input ? input.bytes : encodeTensor(t.dtype, input.data, name);
        expect(Buffer.from(bytes).equals(Buffer.from((await reader.getRaw(name)).bytes)), name).toBe(true);
      }
    } finally {
      await reader.close();
    }
  });

  it('range-checks integers and rejects mismatched data, naming the tensor', () => {
    expect(() => encodeTensor('U8', Int32Array.of(256), 'w')).toThrow(/tensors\["w"\].*256 .*out of range for U8/);
    expect(() => encodeTensor('BOOL', Uint8Array.of(2), 'w')).toThrow(InvalidArgumentError);
    expect(() => encodeTensor('I32', Float32Array.of(1), 'w')).toThrow(/cannot encode Float32Array as I32/);
    expect(() => encodeTensor('F8_E4M3', Float32Array.of(1), 'w')).toThrow(/raw bytes/);
    expect(() => encodeTensor('BF16', Float64Array.of(1), 'w')).toThrow(/double rounding/);
  });
});
