import { AssetNotFoundError, FileFormatError, InvalidArgumentError } from '@lora/core';
import { nodeBuiltin } from '@lora/core/internal';

/** Fixed ids of llama2.c's SentencePiece-derived vocabularies (run.c hard-codes them). */
const UNK = 0;
const BOS = 1;
const EOS = 2;
/** Byte-fallback tokens `<0x00>`…`<0xFF>` start after `<unk>`, `<s>`, `</s>`. */
const BYTE_OFFSET = 3;
/** run.c never merges a pair whose score is not above this. */
const NO_SCORE = -1e10;

const latin1 = (bytes: ArrayLike<number>): string => {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
};

/**
 * The tokenizer of llama2.c's `run.c`, read from its `tokenizer.bin` format (`max_token_length`
 * as int32, then per token: float32 score, int32 byte length, the bytes). Encoding and decoding
 * reproduce run.c exactly (see {@link Llama2cTokenizer.encode} and {@link Llama2cTokenizer.decode}).
 *
 * @example
 * ```ts
 * const tok = await Llama2cTokenizer.fromFile('stories260K/tok512.bin');
 * tok.encode('Once upon a time'); // [1, 403, 407, 261, 378]
 * ```
 */
export class Llama2cTokenizer {
  /** Number of tokens in the vocabulary. */
  readonly vocabSize: number;
  /** Beginning-of-sequence id (1). */
  readonly bosTokenId: number = BOS;
  /** End-of-sequence ids ([2]). */
  readonly eosTokenIds: readonly number[] = [EOS];
  /** Unknown-token id (0). */
  readonly unkTokenId: number = UNK;
  /** Longest piece in bytes, as stored in the file header. */
  readonly maxTokenLength: number;

  private readonly pieces: readonly Uint8Array[];
  private readonly scores: Float32Array;
  private readonly keys: readonly string[];
  private readonly lookup: ReadonlyMap<string, number>;
  /** For `<0xXX>` pieces the byte they stand for, else -1. */
  private readonly byteValue: Int16Array;
  private readonly file: string;

  private constructor(file: string, maxTokenLength: number, pieces: Uint8Array[], scores: Float32Array) {
    this.file = file;
    this.maxTokenLength = maxTokenLength;
    this.pieces = pieces;
    this.scores = scores;
    this.vocabSize = pieces.length;
    this.keys = pieces.map(latin1);
    const lookup = new Map<string, number>();
    // First occurrence wins when a piece repeats (run.c's bsearch would pick an arbitrary one).
    this.keys.forEach((key, id) => {
      if (!lookup.has(key)) lookup.set(key, id);
    });
    this.lookup = lookup;
    this.byteValue = new Int16Array(pieces.length).fill(-1);
    this.keys.forEach((key, id) => {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(key);
      if (m?.[1] !== undefined) this.byteValue[id] = Number.parseInt(m[1], 16);
    });
  }

  /**
   * Reads a llama2.c `tokenizer.bin` (e.g. `tok512.bin`).
   *
   * @param file - path of the `tokenizer.bin`.
   * @param options.vocabSize - expected number of tokens (the model's `vocab_size`); checked exactly.
   *   Without it every token up to the end of the file is read.
   * @throws FileFormatError naming the file and the token whose record is short or malformed;
   *   AssetNotFoundError when the path does not exist.
   */
  static async fromFile(file: string, options: { vocabSize?: number } = {}): Promise<Llama2cTokenizer> {
    const { readFile } = await nodeBuiltin('fs/promises', 'Llama2cTokenizer.fromFile');
    const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') throw new AssetNotFoundError({ asset: file, searched: [file], cause: error });
      throw error;
    });
    return Llama2cTokenizer.fromBytes(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), file, options);
  }

  /** Parses a `tokenizer.bin` already in memory; `file` names it in errors. See {@link Llama2cTokenizer.fromFile}. */
  static fromBytes(bytes: Uint8Array, file: string, options: { vocabSize?: number } = {}): Llama2cTokenizer {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const fail = (field: string, message: string): never => {
      throw new FileFormatError({ file, field, message });
    };
    if (bytes.byteLength < 4) fail('max_token_length', `file has ${bytes.byteLength} bytes, too short for the int32 header`);
    const maxTokenLength = view.getInt32(0, true);
    if (maxTokenLength <= 0) fail('max_token_length', `must be positive, got ${maxTokenLength}`);
    const pieces: Uint8Array[] = [];
    const scores: number[] = [];
    let at = 4;
    while (options.vocabSize === undefined ? at < bytes.byteLength : pieces.length < options.vocabSize) {
      const field = `token ${pieces.length}`;
      if (at + 8 > bytes.byteLength) {
        fail(field, `record starts at byte ${at} but the file ends at ${bytes.byteLength} (expected ${options.vocabSize ?? '?'} tokens)`);
      }
      const score = view.getFloat32(at, true);
      const length = view.getInt32(at + 4, true);
      at += 8;
      if (length < 0 || length > maxTokenLength || at + length > bytes.byteLength) {
        fail(
          field,
          `piece length ${length} at byte ${at - 4} is negative, above max_token_length ${maxTokenLength}, or past the end of the file`,
        );
      }
      pieces.push(Uint8Array.from(bytes.subarray(at, at + length)));
      scores.push(score);
      at += length;
    }
    if (at !== bytes.byteLength) {
      fail(
        'size',
        `${bytes.byteLength - at} trailing bytes after ${pieces.length} tokens; is vocabSize ${options.vocabSize} the model's vocab_size?`,
      );
    }
    if (pieces.length < BYTE_OFFSET + 256) {
      fail('size', `${pieces.length} tokens; a llama2.c vocabulary needs <unk>, <s>, </s> and 256 byte tokens`);
    }
    return new Llama2cTokenizer(file, maxTokenLength, pieces, Float32Array.from(scores));
  }

  /** The raw bytes of a token's piece (spaces are plain `' '`, byte tokens read `<0xXX>`). */
  piece(id: number): Uint8Array {
    return this.pieces[this.checkId(id, 'id')] ?? new Uint8Array(0);
  }

  /** The merge score of a token. */
  score(id: number): number {
    return this.scores[this.checkId(id, 'id')] ?? 0;
  }

  /**
   * Encodes like run.c's `encode()`: optional BOS, then (for non-empty text) the dummy-prefix
   * `' '` token, one token per UTF-8 code point found in the vocabulary (else one byte-fallback
   * token per byte, id = byte + 3), then repeated merging of the adjacent pair whose merged piece
   * has the highest score (leftmost on ties), then optional EOS. Unlike SentencePiece, whitespace
   * runs and leading/trailing spaces are kept as they are.
   *
   * @param options.addBos - prepend BOS (default true, as run.c's generate does).
   * @param options.addEos - append EOS (default false).
   */
  encode(text: string, options: { addBos?: boolean; addEos?: boolean } = {}): number[] {
    // BOS takes part in the merge loop, as in run.c (no tok512 piece starts with it).
    const ids: number[] = (options.addBos ?? true) ? [BOS] : [];
    if (text !== '') {
      const prefix = this.lookup.get(' ');
      if (prefix === undefined) {
        throw new FileFormatError({
          file: this.file,
          field: "' '",
          message: 'the vocabulary has no single-space piece for the dummy prefix',
        });
      }
      ids.push(prefix);
    }
    const bytes = new TextEncoder().encode(text);
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i] ?? 0;
      if ((c & 0xc0) !== 0x80) start = i;
      const next = bytes[i + 1] ?? 0;
      // Keep collecting continuation bytes, at most 4 bytes per code point (run.c's guard).
      if ((next & 0xc0) === 0x80 && i + 1 - start < 4) continue;
      const id = this.lookup.get(latin1(bytes.subarray(start, i + 1)));
      if (id !== undefined) ids.push(id);
      else for (let k = start; k <= i; k++) ids.push((bytes[k] ?? 0) + BYTE_OFFSET);
      start = i + 1;
    }
    const merged = this.merge(ids);
    if (options.addEos ?? false) merged.push(EOS);
    return merged;
  }

  /**
   * Decodes like run.c's `decode()` applied token by token: a piece right after BOS loses its
   * leading space, `<0xXX>` pieces become that raw byte, and the bytes of the whole sequence are
   * then read as UTF-8 (so multi-byte characters split over byte tokens come out whole; invalid
   * sequences become U+FFFD). run.c's printer additionally drops single non-printable bytes,
   * which this does not. `<unk>`, BOS and EOS are skipped unless `skipSpecialTokens` is false.
   */
  decode(ids: readonly number[], options: { skipSpecialTokens?: boolean } = {}): string {
    const skip = options.skipSpecialTokens ?? true;
    const chunks: Uint8Array[] = [];
    let prev = -1;
    for (const id of ids) {
      this.checkId(id, 'ids');
      if (!(skip && (id === UNK || id === BOS || id === EOS))) {
        let piece = this.pieces[id] ?? new Uint8Array(0);
        if (prev === BOS && piece[0] === 0x20) piece = piece.subarray(1);
        const byte = this.byteValue[id] ?? -1;
        chunks.push(byte >= 0 ? Uint8Array.of(byte) : piece);
      }
      prev = id;
    }
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.length;
    }
    return new TextDecoder('utf-8').decode(out);
  }

  /**
   * run.c's merge loop (best score first, leftmost on ties) in O(n log n): a linked list of
   * tokens and a max-heap of candidate pairs keyed by (score, position of the left token).
   */
  private merge(initial: number[]): number[] {
    const n = initial.length;
    const id = Int32Array.from(initial);
    const next = Int32Array.from({ length: n }, (_, i) => (i + 1 < n ? i + 1 : -1));
    const prev = Int32Array.from({ length: n }, (_, i) => i - 1);
    const alive = new Uint8Array(n).fill(1);
    const heap = new PairHeap();
    const consider = (left: number): void => {
      const right = left < 0 ? -1 : (next[left] ?? -1);
      if (right < 0) return;
      const leftId = id[left] ?? 0;
      const rightId = id[right] ?? 0;
      const merged = this.lookup.get((this.keys[leftId] ?? '') + (this.keys[rightId] ?? ''));
      if (merged === undefined) return;
      const score = this.scores[merged] ?? NO_SCORE;
      if (score > NO_SCORE) heap.push({ score, left, leftId, rightId, merged });
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    for (let top = heap.pop(); top !== undefined; top = heap.pop()) {
      const right = next[top.left] ?? -1;
      // Skip candidates that earlier merges made stale.
      if (!alive[top.left] || right < 0 || id[top.left] !== top.leftId || id[right] !== top.rightId) continue;
      id[top.left] = top.merged;
      alive[right] = 0;
      const after = next[right] ?? -1;
      next[top.left] = after;
      if (after >= 0) prev[after] = top.left;
      consider(prev[top.left] ?? -1);
      consider(top.left);
    }
    const out: number[] = [];
    for (let i = n > 0 ? 0 : -1; i >= 0; i = next[i] ?? -1) out.push(id[i] ?? 0);
    return out;
  }

  private checkId(id: number, argument: string): number {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new InvalidArgumentError({ argument, message: `token id ${id} is outside [0, ${this.vocabSize}) of ${this.file}` });
    }
    return id;
  }
}

interface Candidate {
  readonly score: number;
  /** Original index of the left token; smaller means further left. */
  readonly left: number;
  readonly leftId: number;
  readonly rightId: number;
  readonly merged: number;
}

/** Binary max-heap on (score desc, left asc). */
class PairHeap {
  private readonly items: Candidate[] = [];

  push(c: Candidate): void {
    const a = this.items;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(a[i] as Candidate, a[p] as Candidate)) break;
      [a[i], a[p]] = [a[p] as Candidate, a[i] as Candidate];
      i = p;
    }
  }

  pop(): Candidate | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l] as Candidate, a[m] as Candidate)) m = l;
        if (r < a.length && before(a[r] as Candidate, a[m] as Candidate)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m] as Candidate, a[i] as Candidate];
        i = m;
      }
    }
    return top;
  }
}

function before(x: Candidate, y: Candidate): boolean {
  return x.score > y.score || (x.score === y.score && x.left < y.left);
}
