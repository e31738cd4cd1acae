/**
 * ggml tensor types as GGUF files store them: id → name, elements per block and bytes per block.
 * Ids and sizes are the ones llama.cpp's gguf-py lists (`GGMLQuantizationType`,
 * `GGML_QUANT_SIZES` in `gguf/constants.py`); ids 4, 5, 31–33 and 36–38 were removed upstream and
 * are treated as unknown.
 */

/** Size facts of one ggml tensor type. */
export interface GgmlTypeInfo {
  /** Numeric ggml type id, as stored in a GGUF tensor info. */
  readonly id: number;
  /** llama.cpp name, e.g. `Q4_K`. */
  readonly name: string;
  /** Elements per block (1 for plain float/int types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

const QK_K = 256;

/** [id, name, block size, bytes per block]. */
const TABLE: readonly (readonly [number, string, number, number])[] = [
  [0, 'F32', 1, 4],
  [1, 'F16', 1, 2],
  [2, 'Q4_0', 32, 2 + 16],
  [3, 'Q4_1', 32, 2 + 2 + 16],
  [6, 'Q5_0', 32, 2 + 4 + 16],
  [7, 'Q5_1', 32, 2 + 2 + 4 + 16],
  [8, 'Q8_0', 32, 2 + 32],
  [9, 'Q8_1', 32, 4 + 4 + 32],
  [10, 'Q2_K', QK_K, 2 + 2 + QK_K / 16 + QK_K / 4],
  [11, 'Q3_K', QK_K, 2 + QK_K / 4 + QK_K / 8 + 12],
  [12, 'Q4_K', QK_K, 2 + 2 + QK_K / 2 + 12],
  [13, 'Q5_K', QK_K, 2 + 2 + QK_K / 2 + QK_K / 8 + 12],
  [14, 'Q6_K', QK_K, 2 + QK_K / 2 + QK_K / 4 + QK_K / 16],
  [15, 'Q8_K', QK_K, 4 + QK_K + QK_K / 8],
  [16, 'IQ2_XXS', QK_K, 2 + QK_K / 4],
  [17, 'IQ2_XS', QK_K, 2 + QK_K / 4 + QK_K / 32],
  [18, 'IQ3_XXS', QK_K, 2 + QK_K / 4 + QK_K / 8],
  [19, 'IQ1_S', QK_K, 2 + QK_K / 8 + QK_K / 16],
  [20, 'IQ4_NL', 32, 2 + 16],
  [21, 'IQ3_S', QK_K, 2 + QK_K / 4 + QK_K / 8 + QK_K / 32 + 4],
  [22, 'IQ2_S', QK_K, 2 + QK_K / 4 + QK_K / 16],
  [23, 'IQ4_XS', QK_K, 2 + 2 + QK_K / 2 + QK_K / 64],
  [24, 'I8', 1, 1],
  [25, 'I16', 1, 2],
  [26, 'I32', 1, 4],
  [27, 'I64', 1, 8],
  [28, 'F64', 1, 8],
  [29, 'IQ1_M', QK_K, QK_K / 8 + QK_K / 16 + QK_K / 32],
  [30, 'BF16', 1, 2],
  [34, 'TQ1_0', QK_K, 2 + 4 * 13],
  [35, 'TQ2_0', QK_K, 2 + 64],
  [39, 'MXFP4', 32, 1 + 16],
  [40, 'NVFP4', 64, 4 + 32],
  [41, 'Q1_0', 128, 2 + 16],
];

const BY_ID: ReadonlyMap<number, GgmlTypeInfo> = new Map(
  TABLE.map(([id, name, blockSize, typeSize]) => [id, Object.freeze({ id, name, blockSize, typeSize })]),
);

/**
 * Ids of the ggml tensor types by llama.cpp name (`GgmlType.Q4_K === 12`).
 *
 * @example
 * ```ts
 * if (tensor.type === GgmlType.Q8_0) console.log('8-bit blocks of 32');
 * ```
 */
export const GgmlType = Object.freeze(Object.fromEntries(TABLE.map(([id, name]) => [name, id]))) as Readonly<
  Record<
    | 'F32'
    | 'F16'
    | 'Q4_0'
    | 'Q4_1'
    | 'Q5_0'
    | 'Q5_1'
    | 'Q8_0'
    | 'Q8_1'
    | 'Q2_K'
    | 'Q3_K'
    | 'Q4_K'
    | 'Q5_K'
    | 'Q6_K'
    | 'Q8_K'
    | 'IQ2_XXS'
    | 'IQ2_XS'
    | 'IQ3_XXS'
    | 'IQ1_S'
    | 'IQ4_NL'
    | 'IQ3_S'
    | 'IQ2_S'
    | 'IQ4_XS'
    | 'I8'
    | 'I16'
    | 'I32'
    | 'I64'
    | 'F64'
    | 'IQ1_M'
    | 'BF16'
    | 'TQ1_0'
    | 'TQ2_0'
    | 'MXFP4'
    | 'NVFP4'
    | 'Q1_0',
    number
  >
>;

/**
 * Block size and bytes per block of a ggml type id, or `undefined` for an id llama.cpp does not
 * (or no longer) define.
 *
 * @example
 * ```ts
 * ggmlTypeInfo(12); // { id: 12, name: 'Q4_K', blockSize: 256, typeSize: 144 }
 * ```
 */
export function ggmlTypeInfo(type: number): GgmlTypeInfo | undefined {
  return BY_ID.get(type);
}
