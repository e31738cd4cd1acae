import { readFileSync } from 'node:fs';

/** One piece of a SentencePiece model: text, score and type (NORMAL=1 … BYTE=6). @internal */
export interface SentencePiece {
  readonly piece: string;
  readonly score: number;
  readonly type: number;
}

/** Reads a protobuf varint at `pos`; returns the value and the next position. */
function varint(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[pos++] as number;
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return [value, pos];
    shift += 7;
  }
}

/** Calls `onField(field, wireType, valueStart, valueEnd | varintValue)` for each field of a message. */
function fields(bytes: Uint8Array, start: number, end: number, onField: (field: number, wire: number, a: number, b: number) => void): void {
  let pos = start;
  while (pos < end) {
    const [key, next] = varint(bytes, pos);
    pos = next;
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (wire === 0) {
      const [v, after] = varint(bytes, pos);
      onField(field, wire, v, v);
      pos = after;
    } else if (wire === 1) {
      onField(field, wire, pos, pos + 8);
      pos += 8;
    } else if (wire === 2) {
      const [len, after] = varint(bytes, pos);
      onField(field, wire, after, after + len);
      pos = after + len;
    } else if (wire === 5) {
      onField(field, wire, pos, pos + 4);
      pos += 4;
    } else {
      throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }
}

/**
 * The pieces of a SentencePiece `.model` file (ModelProto field 1; piece = 1, score = 2, type = 3,
 * type defaulting to NORMAL), the data llama.cpp's converter writes to `tokenizer.ggml.tokens`,
 * `scores` and `token_type`. A test helper, not a general protobuf reader. @internal
 */
export function readSentencePieceModel(path: string): SentencePiece[] {
  const bytes = new Uint8Array(readFileSync(path));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder('utf-8');
  const pieces: SentencePiece[] = [];
  fields(bytes, 0, bytes.length, (field, wire, a, b) => {
    if (field !== 1 || wire !== 2) return;
    let piece = '';
    let score = 0;
    let type = 1;
    fields(bytes, a, b, (f, w, x, y) => {
      if (f === 1 && w === 2) piece = text.decode(bytes.subarray(x, y));
      else if (f === 2 && w === 5) score = view.getFloat32(x, true);
      else if (f === 3 && w === 0) type = x;
    });
    pieces.push({ piece, score, type });
  });
  return pieces;
}
