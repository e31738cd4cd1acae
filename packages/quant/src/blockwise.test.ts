// Parity with bitsandbytes 0.50 (CPU) on fixtures/quant, written by tools/parity/quant/make_quant.py.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SafetensorsReader } from '@lora/models/internal';
import { compressAbsmax, decompressAbsmax, dequantize4bit, quantize4bit, quantizeBlockwise8bit } from './blockwise.js';
import { DYNAMIC_MAP_SIGNED, FP4_CODE, NF4_CODE } from './codebooks/codebooks.js';
import { pythonFloatRepr, quantStateJson } from './format.js';
import { quantizeState } from './nf4-linear.js';
import {
  bits,
  bitsUnsignedZero,
  f32,
  openBlockwiseFixtures,
  rawBytes,
  type BlockwiseCase,
  type Blockwise8bitCase,
} from './test/fixtures.js';
import { torchFloat32Mean } from './torch-sum.js';

let reader: SafetensorsReader;
let cases: BlockwiseCase[];
let meanLengths: number[];
let q8Cases: Blockwise8bitCase[];

beforeAll(async () => {
  ({ reader, cases, meanLengths, q8Cases } = await openBlockwiseFixtures());
});
afterAll(async () => {
  await reader.close();
});

describe('code tables', () => {
  it('equal get_4bit_type and create_dynamic_map bit for bit', async () => {
    expect(bits(NF4_CODE)).toEqual(bits(await f32(reader, 'code.nf4')));
    expect(bits(FP4_CODE)).toEqual(bits(await f32(reader, 'code.fp4')));
    expect(bits(DYNAMIC_MAP_SIGNED)).toEqual(bits(await f32(reader, 'code.dynamic')));
  });
});

describe('torch float32 mean (the double-quant offset)', () => {
  it('matches torch.mean bit for bit', async () => {
    for (const n of meanLengths) {
      const input = await f32(reader, `mean.${n}.input`);
      const expected = (await f32(reader, `mean.${n}.value`))[0];
      expect(torchFloat32Mean(input), `n=${n}`).toBe(expected);
    }
  });
});

describe('4-bit blockwise vs bitsandbytes', () => {
  it('every fixture case: packed bytes, absmax, nested stats and quant_state JSON identical; dequantized values equal', async () => {
    expect(cases.length).toBeGreaterThan(20);
    let codeMismatches = 0;
    let codeTotal = 0;
    for (const c of cases) {
      const input = await f32(reader, `${c.shapeId}.input`);
      const n = input.length;
      const { packed, absmax } = quantize4bit(input, c.quantType, c.blocksize);
      expect(packed, `${c.name} packed`).toEqual(await rawBytes(reader, `${c.name}.packed`));
      expect((await reader.getRaw(`${c.name}.packed`)).shape).toEqual([Math.ceil(n / 2), 1]);
      expect(bits(await f32(reader, `${c.name}.quant_map`)), `${c.name} quant_map`).toEqual(
        bits(c.quantType === 'nf4' ? NF4_CODE : FP4_CODE),
      );
      let scales = absmax;
      if (c.compressStatistics) {
        const nested = compressAbsmax(absmax);
        const expectedCodes = await rawBytes(reader, `${c.name}.absmax`);
        const off = [...nested.absmax.keys()].filter((i) => nested.absmax[i] !== expectedCodes[i]);
        expect(off, `${c.name} absmax codes differing from bnb`).toEqual([]);
        expect(nested.absmax, `${c.name} absmax codes`).toEqual(expectedCodes);
        expect(nested.offset, `${c.name} nested offset`).toBe(torchFloat32Mean(absmax));
        codeMismatches += off.length;
        codeTotal += nested.absmax.length;
        expect(bits(nested.nestedAbsmax), `${c.name} nested_absmax`).toEqual(bits(await f32(reader, `${c.name}.nested_absmax`)));
        expect(bits(await f32(reader, `${c.name}.nested_quant_map`))).toEqual(bits(DYNAMIC_MAP_SIGNED));
        scales = decompressAbsmax({ ...nested, absmax: expectedCodes });
      } else {
        expect(bits(absmax), `${c.name} absmax`).toEqual(bits(await f32(reader, `${c.name}.absmax`)));
      }
      const state = quantizeState(input, c.shape, { quantType: c.quantType, blocksize: c.blocksize, doubleQuant: c.compressStatistics });
      const json = new TextDecoder().decode(await rawBytes(reader, `${c.name}.quant_state`));
      expect(quantStateJson(state), `${c.name} quant_state`).toBe(json);
      expect(state.packed).toEqual(packed);
      const dequant = dequantize4bit(packed, scales, c.quantType, c.blocksize, n);
      expect(bitsUnsignedZero(dequant), `${c.name} dequant`).toEqual(bitsUnsignedZero(await f32(reader, `${c.name}.dequant`)));
    }
    console.log(`double-quant absmax codes differing from bnb: ${codeMismatches} of ${codeTotal}`);
    expect(codeMismatches).toBe(0);
  });
});

describe('8-bit blockwise (the double-quant path) vs bitsandbytes', () => {
  it('codes and absmax identical on midpoints, lookup-bin edges, values near ±1 and many blocks', async () => {
    expect(q8Cases.length).toBeGreaterThanOrEqual(6);
    let total = 0;
    let offExact = 0;
    for (const c of q8Cases) {
      const input = await f32(reader, `q8.${c.id}.input`);
      expect(input.length).toBe(c.n);
      const { codes, absmax } = quantizeBlockwise8bit(input, DYNAMIC_MAP_SIGNED, c.blocksize);
      const expected = await rawBytes(reader, `q8.${c.id}.codes`);
      const differing = [...codes.keys()].filter((i) => codes[i] !== expected[i]);
      expect(differing, `q8.${c.id}: indices whose code differs from bnb`).toEqual([]);
      expect(bits(absmax), `q8.${c.id} absmax`).toEqual(bits(await f32(reader, `q8.${c.id}.absmax`)));
      // bnb's 65536-bin table is not an exact nearest-code search: count where it differs from one.
      for (let i = 0; i < input.length; i++) {
        const v = Math.fround((input[i] as number) / (absmax[Math.floor(i / c.blocksize)] as number));
        let best = 0;
        for (let q = 1; q < 256; q++)
          if (Math.abs(v - (DYNAMIC_MAP_SIGNED[q] as number)) < Math.abs(v - (DYNAMIC_MAP_SIGNED[best] as number))) best = q;
        if (absmax[Math.floor(i / c.blocksize)] !== 0 && best !== codes[i]) offExact++;
      }
      total += c.n;
    }
    console.log(
      `8-bit stress cases: 0 of ${total} codes differ from bnb; ${offExact} of them are not the exact nearest code (bnb's lookup table)`,
    );
    expect(offExact).toBeGreaterThan(0);
  });
});

describe('pythonFloatRepr', () => {
  it('formats like Python repr', () => {
    expect(pythonFloatRepr(6)).toBe('6.0');
    expect(pythonFloatRepr(2.9746174812316895)).toBe('2.9746174812316895');
    expect(pythonFloatRepr(0.0001)).toBe('0.0001');
    expect(pythonFloatRepr(0.00001)).toBe('1e-05');
    expect(pythonFloatRepr(1.5e-7)).toBe('1.5e-07');
    expect(pythonFloatRepr(1e16)).toBe('1e+16');
    expect(pythonFloatRepr(123456.5)).toBe('123456.5');
  });
});
