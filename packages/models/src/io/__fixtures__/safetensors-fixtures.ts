/**
 * Test-only access to fixtures/safetensors/ (written by tools/parity/make_safetensors.py with the
 * real `safetensors` package): file paths, the writer inputs and the expected decoded values.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { EncodableData, SafetensorsDtype } from '../dtype.js';
import type { TensorToWrite } from '../safetensors-writer.js';

/** Absolute path of fixtures/safetensors/. */
export const FIXTURES_DIR = fileURLToPath(new URL('../../../../../fixtures/safetensors/', import.meta.url));

/** How a fixture tensor's writer input is given. */
export type FixtureInput =
  | { kind: 'f32bits'; values: number[] }
  | { kind: 'f64hex'; hex: string }
  | { kind: 'int'; values: number[] }
  | { kind: 'raw'; hex: string };

/** Expected decoding: float32 bit patterns, int32/bool values, or a decode error. */
export type FixtureExpected =
  | { dtype: 'float32'; bits: number[] }
  | { dtype: 'int32' | 'bool'; values: number[] }
  | { dtype: 'error' };

export interface FixtureTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  input: FixtureInput;
  expected: FixtureExpected;
}

export interface FixtureFile {
  metadata: Record<string, string> | null;
  byteExact: boolean;
  tensors: Record<string, FixtureTensor>;
}

export interface Fixtures {
  [file: string]: unknown;
  'dtypes.safetensors': FixtureFile;
  'metadata.safetensors': FixtureFile;
  'multi_metadata.safetensors': FixtureFile;
  'int_overflow.safetensors': FixtureFile;
  sharded: { index: string; tensors: Record<string, { shape: number[]; expected: FixtureExpected }> };
  corrupt: Record<string, { tensor: string | null; message: string; reference: string }>;
}

/** Parsed fixtures.json. */
export const fixtures = JSON.parse(readFileSync(`${FIXTURES_DIR}fixtures.json`, 'utf8')) as Fixtures;

/** The safetensors files whose tensors are described in fixtures.json. */
export const TENSOR_FILES = ['dtypes.safetensors', 'metadata.safetensors', 'multi_metadata.safetensors', 'int_overflow.safetensors'] as const;

/** Bytes of a hex string. */
export function fromHex(hex: string): Uint8Array {
  return Uint8Array.from({ length: hex.length / 2 }, (_, i) => parseInt(hex.slice(2 * i, 2 * i + 2), 16));
}

/** Host data of a fixture input, as a caller of the writer would hold it. */
export function inputData(t: FixtureTensor): TensorToWrite {
  const { dtype, shape, input } = t;
  if (input.kind === 'raw') return { dtype, shape, bytes: fromHex(input.hex) };
  let data: EncodableData;
  if (input.kind === 'f32bits') data = new Float32Array(Uint32Array.from(input.values).buffer);
  else if (input.kind === 'f64hex') data = new Float64Array(fromHex(input.hex).buffer);
  else data = dtype === 'BOOL' ? Uint8Array.from(input.values) : Int32Array.from(input.values);
  return { dtype, shape, data };
}
