import { FileFormatError, parseJson } from '@lora/core';
import { z } from 'zod';
import { blockCount, checkBlocksize, NESTED_BLOCKSIZE } from './blockwise.js';
import { codeOf, DYNAMIC_MAP_SIGNED, type QuantType } from './codebooks/codebooks.js';

/**
 * The bitsandbytes 4-bit on-disk format (`QuantState.as_dict(packed=True)`, bitsandbytes 0.50):
 * for a quantized linear weight `P.weight` the checkpoint holds
 * - `P.weight` U8 `[(n+1)//2, 1]` (two codes per byte, first element in the high nibble),
 * - `P.weight.absmax` F32 `[blocks]`, or U8 `[blocks]` with double quantization,
 * - `P.weight.quant_map` F32 `[16]`,
 * - `P.weight.nested_absmax` F32 `[⌈blocks/256⌉]`, `P.weight.nested_quant_map` F32 `[256]` (double quant),
 * - `P.weight.quant_state.bitsandbytes__nf4` (or `__fp4`) U8: UTF-8 JSON of `quant_type`,
 *   `blocksize`, `dtype`, `shape`, and `nested_blocksize`, `nested_dtype`, `nested_offset`.
 */
export const QUANT_STATE_SUFFIXES = ['absmax', 'quant_map', 'nested_absmax', 'nested_quant_map'] as const;

/** The key of the packed JSON entry for `weightKey` and a quant type. */
export function quantStateKey(weightKey: string, quantType: QuantType): string {
  return `${weightKey}.quant_state.bitsandbytes__${quantType}`;
}

/** Everything needed to dequantize one bitsandbytes 4-bit tensor, decoded on the host. */
export interface QuantState {
  readonly quantType: QuantType;
  readonly blocksize: number;
  /** The original tensor shape (PyTorch `[out, in]` for a Linear weight). */
  readonly shape: readonly number[];
  /** The original dtype name (`float32`, `bfloat16`, `float16`). */
  readonly dtype: string;
  /** Packed codes, ⌈n/2⌉ bytes. */
  readonly packed: Uint8Array;
  /** The 16-entry code table stored with the tensor. */
  readonly quantMap: Float32Array;
  /** float32 absmax per block (plain), or 8-bit codes (double quantization). */
  readonly absmax: Float32Array | Uint8Array;
  /** Double quantization: nested stats of the 8-bit absmax. */
  readonly nested?: {
    readonly absmax: Float32Array;
    readonly quantMap: Float32Array;
    readonly blocksize: number;
    readonly dtype: string;
    readonly offset: number;
  };
}

const QuantStateJsonSchema = z.object({
  quant_type: z.enum(['nf4', 'fp4']),
  blocksize: z.number().int(),
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  nested_blocksize: z.number().int().positive().optional(),
  nested_dtype: z.string().optional(),
  nested_offset: z.number().optional(),
});

/**
 * Python's `repr(float)`: the shortest round-trip digits, in fixed notation for 1e-4 ≤ |x| < 1e16
 * (with `.0` for integers) and `d.ddde±XX` otherwise — so JSON we write matches `json.dumps`.
 */
export function pythonFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const [mantissa, expText] = x.toExponential().split('e') as [string, string];
  const exp = Number(expText);
  if (exp >= -4 && exp < 16) {
    const fixed = x.toFixed(Math.max(0, mantissa.replace(/^-/, '').replace('.', '').length - 1 - exp));
    return fixed.includes('.') ? fixed : `${fixed}.0`;
  }
  return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
}

/** The JSON bytes bitsandbytes packs into `quant_state.bitsandbytes__<type>` (Python `json.dumps` layout). */
export function quantStateJson(state: QuantState): string {
  const parts = [
    `"quant_type": "${state.quantType}"`,
    `"blocksize": ${state.blocksize}`,
    `"dtype": "${state.dtype}"`,
    `"shape": [${state.shape.join(', ')}]`,
  ];
  if (state.nested !== undefined) {
    parts.push(
      `"nested_blocksize": ${state.nested.blocksize}`,
      `"nested_dtype": "${state.nested.dtype}"`,
      `"nested_offset": ${pythonFloatRepr(state.nested.offset)}`,
    );
  }
  return `{${parts.join(', ')}}`;
}

/** A tensor as written to safetensors (raw little-endian bytes). */
export interface BnbTensor {
  readonly dtype: 'U8' | 'F32';
  readonly shape: readonly number[];
  readonly bytes: Uint8Array;
}

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/** The checkpoint entries of one quantized weight, keyed by full name (`weightKey` + suffix). */
export function quantStateTensors(weightKey: string, state: QuantState): Map<string, BnbTensor> {
  const out = new Map<string, BnbTensor>();
  out.set(weightKey, { dtype: 'U8', shape: [state.packed.length, 1], bytes: state.packed });
  out.set(`${weightKey}.absmax`, {
    dtype: state.absmax instanceof Uint8Array ? 'U8' : 'F32',
    shape: [state.absmax.length],
    bytes: state.absmax instanceof Uint8Array ? state.absmax : f32Bytes(state.absmax),
  });
  out.set(`${weightKey}.quant_map`, { dtype: 'F32', shape: [16], bytes: f32Bytes(state.quantMap) });
  if (state.nested !== undefined) {
    out.set(`${weightKey}.nested_absmax`, { dtype: 'F32', shape: [state.nested.absmax.length], bytes: f32Bytes(state.nested.absmax) });
    out.set(`${weightKey}.nested_quant_map`, {
      dtype: 'F32',
      shape: [state.nested.quantMap.length],
      bytes: f32Bytes(state.nested.quantMap),
    });
  }
  const json = new TextEncoder().encode(quantStateJson(state));
  out.set(quantStateKey(weightKey, state.quantType), { dtype: 'U8', shape: [json.length], bytes: json });
  return out;
}

/** Raw tensor lookup (a safetensors reader's `getRaw`). */
export interface RawTensorSource {
  keys(): readonly string[];
  getRaw(name: string): Promise<{ readonly dtype: string; readonly shape: readonly number[]; readonly bytes: Uint8Array }>;
}

/** The quant type of `weightKey` if the checkpoint holds its packed quant state, else undefined. */
export function quantTypeOf(keys: ReadonlySet<string>, weightKey: string): QuantType | undefined {
  if (keys.has(quantStateKey(weightKey, 'nf4'))) return 'nf4';
  if (keys.has(quantStateKey(weightKey, 'fp4'))) return 'fp4';
  return undefined;
}

function f32Of(bytes: Uint8Array): Float32Array {
  return new Float32Array(bytes.slice().buffer);
}

/**
 * Reads and checks the quant state of `weightKey` from a bnb 4-bit checkpoint. Errors name the file
 * and tensor (malformed JSON, wrong dtypes or sizes, missing nested stats).
 */
export async function readQuantState(source: RawTensorSource, weightKey: string, file: string): Promise<QuantState> {
  const keys = new Set(source.keys());
  const quantType = quantTypeOf(keys, weightKey);
  const fail = (field: string, message: string): FileFormatError => new FileFormatError({ file, field, message });
  if (quantType === undefined) throw fail(weightKey, `no quant_state.bitsandbytes__nf4/fp4 entry for "${weightKey}".`);
  const stateKey = quantStateKey(weightKey, quantType);
  const stateRaw = await source.getRaw(stateKey);
  if (stateRaw.dtype !== 'U8') throw fail(stateKey, `expected U8 JSON bytes, found ${stateRaw.dtype}.`);
  const text = new TextDecoder().decode(stateRaw.bytes);
  const meta = parseJson(text, QuantStateJsonSchema, { file: `${file} (tensor ${stateKey})` });
  if (meta.quant_type !== quantType) throw fail(stateKey, `quant_type "${meta.quant_type}" does not match the key suffix "${quantType}".`);
  try {
    checkBlocksize(meta.blocksize, `${stateKey}.blocksize`);
  } catch (error) {
    throw fail(stateKey, (error as Error).message);
  }
  const n = meta.shape.reduce((a, b) => a * b, 1);
  const need = async (name: string, dtype: string, length: number): Promise<Uint8Array> => {
    if (!keys.has(name)) throw fail(name, `missing tensor "${name}" of the quantized weight "${weightKey}".`);
    const t = await source.getRaw(name);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.dtype !== dtype || count !== length) {
      throw fail(name, `expected ${dtype} with ${length} elements, found ${t.dtype} [${t.shape.join(', ')}].`);
    }
    return t.bytes;
  };
  const blocks = blockCount(n, meta.blocksize);
  const packed = await need(weightKey, 'U8', Math.ceil(n / 2));
  const quantMap = f32Of(await need(`${weightKey}.quant_map`, 'F32', 16));
  const nestedMeta = [meta.nested_blocksize, meta.nested_dtype, meta.nested_offset];
  const nested = nestedMeta.some((v) => v !== undefined);
  if (nested && nestedMeta.some((v) => v === undefined)) {
    throw fail(stateKey, 'nested_blocksize, nested_dtype and nested_offset must all be present (double quantization) or all absent.');
  }
  if (!nested) {
    const absmax = f32Of(await need(`${weightKey}.absmax`, 'F32', blocks));
    return { quantType, blocksize: meta.blocksize, shape: meta.shape, dtype: meta.dtype, packed, quantMap, absmax };
  }
  const nestedBlocksize = meta.nested_blocksize as number;
  const absmax = (await need(`${weightKey}.absmax`, 'U8', blocks)).slice();
  return {
    quantType,
    blocksize: meta.blocksize,
    shape: meta.shape,
    dtype: meta.dtype,
    packed,
    quantMap,
    absmax,
    nested: {
      absmax: f32Of(await need(`${weightKey}.nested_absmax`, 'F32', blockCount(blocks, nestedBlocksize))),
      quantMap: f32Of(await need(`${weightKey}.nested_quant_map`, 'F32', 256)),
      blocksize: nestedBlocksize,
      dtype: meta.nested_dtype as string,
      offset: meta.nested_offset as number,
    },
  };
}

/** Default code tables for a fresh quant state. */
export function defaultMaps(quantType: QuantType): { quantMap: Float32Array; nestedQuantMap: Float32Array; nestedBlocksize: number } {
  return { quantMap: codeOf(quantType), nestedQuantMap: DYNAMIC_MAP_SIGNED, nestedBlocksize: NESTED_BLOCKSIZE };
}
