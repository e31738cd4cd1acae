import { isUtf8 } from 'node:buffer';

/** Bytes a UTF-8 sequence starting with `lead` needs in all, or 0 when `lead` cannot start one. */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead < 0xe0) return 2;
  if (lead >= 0xe0 && lead < 0xf0) return 3;
  if (lead >= 0xf0 && lead < 0xf5) return 4;
  return 0;
}

/**
 * Watches the raw bytes of a text file, chunk by chunk, and remembers the 1-based lines that hold
 * bytes which are not valid UTF-8 (the decoder reads those as U+FFFD). Valid chunks cost one
 * native `isUtf8` check and a newline count; only a bad chunk is scanned byte by byte.
 * @internal
 */
export class InvalidUtf8Lines {
  private readonly lines = new Set<number>();
  private line = 1;
  private carry: Buffer = Buffer.alloc(0);

  /** Feeds the next chunk of the file. */
  push(chunk: Buffer): void {
    let bytes = this.carry.length === 0 ? chunk : Buffer.concat([this.carry, chunk]);
    // A sequence cut by the chunk boundary waits for the next chunk.
    let cut = bytes.length;
    for (let back = 1; back <= 3 && back <= bytes.length; back++) {
      const b = bytes[bytes.length - back] as number;
      if ((b & 0xc0) === 0x80) continue; // continuation byte: look further back
      const need = sequenceLength(b);
      if (need > back) cut = bytes.length - back;
      break;
    }
    this.carry = Buffer.from(bytes.subarray(cut));
    bytes = bytes.subarray(0, cut);
    if (isUtf8(bytes)) {
      for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) this.line += 1;
      return;
    }
    this.scan(bytes);
  }

  /** Ends the file: an unfinished sequence at the very end is invalid. */
  end(): void {
    if (this.carry.length > 0) this.lines.add(this.line);
    this.carry = Buffer.alloc(0);
  }

  /** Whether any line in `[from, to]` holds invalid UTF-8. */
  has(from: number, to: number): boolean {
    if (this.lines.size === 0) return false;
    for (let l = from; l <= to; l++) if (this.lines.has(l)) return true;
    return false;
  }

  private scan(bytes: Buffer): void {
    let i = 0;
    while (i < bytes.length) {
      const b = bytes[i] as number;
      if (b === 0x0a) {
        this.line += 1;
        i += 1;
        continue;
      }
      const need = sequenceLength(b);
      if (need === 0 || i + need > bytes.length || !isUtf8(bytes.subarray(i, i + need))) {
        this.lines.add(this.line);
        i += 1;
        continue;
      }
      i += need;
    }
  }
}

/** Number of `\n` in `text`. @internal */
export function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) n += 1;
  return n;
}
