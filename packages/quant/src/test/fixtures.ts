import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsReader } from '@lora/models/internal';

/** Repository `fixtures/` folder (tests only). */
export const FIXTURES = join(import.meta.dirname, '../../../../fixtures');

/** One case of fixtures/quant/cases.json. */
export interface BlockwiseCase {
  name: string;
  shapeId: string;
  shape: number[];
  quantType: 'nf4' | 'fp4';
  blocksize: number;
  compressStatistics: boolean;
}

/** One 8-bit case of fixtures/quant/cases.json (`q8Cases`): `q8.<id>.input|codes|absmax`. */
export interface Blockwise8bitCase {
  id: string;
  n: number;
  blocksize: number;
}

/** cases.json and a reader over blockwise.safetensors (written by tools/parity/quant/make_quant.py). */
export async function openBlockwiseFixtures(): Promise<{
  cases: BlockwiseCase[];
  meanLengths: number[];
  q8Cases: Blockwise8bitCase[];
  reader: SafetensorsReader;
}> {
  const dir = join(FIXTURES, 'quant');
  const meta = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as {
    cases: BlockwiseCase[];
    meanLengths: number[];
    q8Cases: Blockwise8bitCase[];
  };
  return { ...meta, reader: await SafetensorsReader.open(join(dir, 'blockwise.safetensors')) };
}

/** The raw bytes of a fixture tensor. */
export async function rawBytes(reader: SafetensorsReader, name: string): Promise<Uint8Array> {
  return (await reader.getRaw(name)).bytes;
}

/** A fixture F32 tensor as a Float32Array (exact bits). */
export async function f32(reader: SafetensorsReader, name: string): Promise<Float32Array> {
  return new Float32Array((await rawBytes(reader, name)).slice().buffer);
}

/** Float32 bits of an array, for exact (bitwise) comparisons. */
export function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** Float32 bits with -0 read as +0 (bnb's C FP4 kernel returns -0 for code 8, its Python path +0). */
export function bitsUnsignedZero(a: Float32Array): Uint32Array {
  return bits(a.map((v) => (v === 0 ? 0 : v)));
}
