// Parity with bitsandbytes 0.50 (CPU) on fixtures/quant, written by tools/parity/quant/make_quant.py, and
// with bnb's reference 8-bit quantizer on fixtures/train/optimizers.json (tools/parity/train/make_train_fixtures.py).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SafetensorsReader } from '@lora/models/internal';
import {
  compressAbsmax,
  decompressAbsmax,
  dequantize4bit,
  dequantizeBlockwise8bit,
  quantize4bit,
  quantizeBlock8bit,
  quantizeBlockwise8bit,
} from './blockwise.js';
import { DYNAMIC_MAP_SIGNED, dynamicMap, FP4_CODE, NF4_CODE } from './codebooks/codebooks.js';
import { pythonFloatRepr, quantStateJson } from './format.js';
import { quantizeState } from './nf4-linear.js';
import {
  bits,
  bitsUnsignedZero,
  f32,
  FIXTURES,
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
// bnb's reference quantizer (torch.bucketize) and bnb.optim.AdamW8bit's maps.
const trainFixture = JSON.parse(readFileSync(join(FIXTURES, 'train', 'optimizers.json'), 'utf8')) as {
  adamw8bit: { signed_map: number[]; unsigned_map: number[] };
  blockwise: { input: number[]; codes: number[]; absmax: number[]; dequantized: number[] };
};

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
    expect(bits(dynamicMap(true))).toEqual(bits(Float32Array.from(trainFixture.adamw8bit.signed_map)));
    expect(bits(dynamicMap(false))).toEqual(bits(Float32Array.from(trainFixture.adamw8bit.unsigned_map)));
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

describe("8-bit blockwise, rounding 'nearest' (the AdamW8bit states) vs bnb's reference quantize_blockwise", () => {
  it('codes, absmax and dequantized values identical, and they differ from the lookup-table rounding', () => {
    const { input, codes, absmax, dequantized } = trainFixture.blockwise;
    const x = Float32Array.from(input);
    const nearest = quantizeBlockwise8bit(x, DYNAMIC_MAP_SIGNED, 256, { rounding: 'nearest' });
    expect(bits(nearest.absmax)).toEqual(bits(Float32Array.from(absmax)));
    expect(Array.from(nearest.codes)).toEqual(codes);
    const back = dequantizeBlockwise8bit(Uint8Array.from(codes), nearest.absmax, DYNAMIC_MAP_SIGNED, 256);
    expect(bits(back)).toEqual(bits(Float32Array.from(dequantized)));
    const lut = quantizeBlockwise8bit(x, DYNAMIC_MAP_SIGNED, 256);
    expect(bits(lut.absmax)).toEqual(bits(nearest.absmax));
    const differing = [...lut.codes.keys()].filter((i) => lut.codes[i] !== nearest.codes[i]).length;
    console.log(`reference fixture (signed map): 'lut' and 'nearest' codes differ at ${differing} of ${x.length}`);
    expect(differing).toBeGreaterThan(0);
  });

  it('differ on an all-zero block (bnb CPU: code 0; reference: the zero code) and on small unsigned values', () => {
    const unsigned = dynamicMap(false);
    const zeros = new Float32Array(300);
    expect(quantizeBlockwise8bit(zeros, DYNAMIC_MAP_SIGNED, 256).codes.every((q) => q === 0)).toBe(true);
    const zeroCode = DYNAMIC_MAP_SIGNED.indexOf(0);
    expect(zeroCode).toBeGreaterThan(0);
    expect(quantizeBlockwise8bit(zeros, DYNAMIC_MAP_SIGNED, 256, { rounding: 'nearest' }).codes.every((q) => q === zeroCode)).toBe(true);
    // A second moment spanning 1e-6..1 of its absmax: the table's 2/65535-wide bins merge the small codes.
    const v = Float32Array.from({ length: 256 }, (_, i) => 10 ** (-6 + (6 * i) / 255));
    const lut = quantizeBlockwise8bit(v, unsigned, 256).codes;
    const nearest = quantizeBlockwise8bit(v, unsigned, 256, { rounding: 'nearest' }).codes;
    const exact = Array.from(v, (x) => {
      let best = 0;
      for (let q = 1; q < 256; q++) if (Math.abs(x - (unsigned[q] as number)) < Math.abs(x - (unsigned[best] as number))) best = q;
      return best;
    });
    expect(Array.from(nearest)).toEqual(exact);
    expect([...lut.keys()].filter((i) => lut[i] !== exact[i]).length).toBeGreaterThan(0);
  });

  it('quantizeBlock8bit writes one block at an offset, as the whole-tensor quantizer does', () => {
    const x = Float32Array.from(trainFixture.blockwise.input);
    for (const rounding of ['lut', 'nearest'] as const) {
      const whole = quantizeBlockwise8bit(x, DYNAMIC_MAP_SIGNED, 256, { rounding });
      const codes = new Uint8Array(x.length);
      const absmax = new Float32Array(whole.absmax.length);
      for (let b = 0, start = 0; start < x.length; b++, start += 256) {
        const scratch = x.slice(start, Math.min(x.length, start + 256));
        quantizeBlock8bit(scratch, 0, scratch.length, DYNAMIC_MAP_SIGNED, rounding, codes, absmax, b, start);
      }
      expect(codes, rounding).toEqual(whole.codes);
      expect(bits(absmax), rounding).toEqual(bits(whole.absmax));
    }
  });

  it('rejects a map that is not 256 entries, a bad blocksize and an unknown rounding', () => {
    const x = new Float32Array(4);
    expect(() => quantizeBlockwise8bit(x, NF4_CODE, 256)).toThrow(/256-entry map/);
    expect(() => quantizeBlockwise8bit(x, DYNAMIC_MAP_SIGNED, 0)).toThrow(/blocksize/);
    expect(() => quantizeBlockwise8bit(x, DYNAMIC_MAP_SIGNED, 64, { rounding: 'cuda' as 'lut' })).toThrow(/rounding/);
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
