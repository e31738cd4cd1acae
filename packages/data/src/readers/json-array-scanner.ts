/**
 * Incremental scanner that finds the elements of the record array in a JSON document fed in
 * chunks — the root array, or the array under `arrayKey` of a root object — and returns each
 * element's source text with its starting line. Only one element is held in memory at a time.
 * It tracks strings and nesting but leaves full syntax checking to `JSON.parse` of each element.
 * @internal
 */
export class JsonArrayScanner {
  private readonly stack: Frame[] = [];
  private inString = false;
  private escape = false;
  private line = 1;
  private element: Element | undefined;
  private key: string[] | undefined;
  private rootKind: 'array' | 'object' | 'other' | undefined;
  private recordsFound = false;
  private rootClosed = false;

  constructor(private readonly arrayKey: string) {}

  /** Feeds the next chunk; returns the elements completed within it. */
  push(chunk: string): ScannedElement[] {
    const done: ScannedElement[] = [];
    let start = 0; // start of the current element's text within this chunk
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (this.inString) {
        if (this.key !== undefined && !(c === QUOTE && !this.escape)) this.key.push(chunk[i] as string);
        if (this.escape) this.escape = false;
        else if (c === BACKSLASH) this.escape = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.key !== undefined) this.finishKey();
          const el = this.element;
          if (el !== undefined && el.primitive && this.stack.length === el.depth) {
            done.push(this.finish(chunk.slice(start, i + 1)));
          }
        }
        if (c === NEWLINE) this.line += 1;
        continue;
      }
      const el = this.element;
      if (el !== undefined && el.primitive && (isSpace(c) || c === COMMA || c === CLOSE_BRACKET || c === CLOSE_BRACE)) {
        done.push(this.finish(chunk.slice(start, i)));
      }
      if (c === NEWLINE) this.line += 1;
      if (isSpace(c)) continue;
      if (this.rootClosed) throw new ScanError(this.line, 'unexpected content after the end of the JSON document');
      const top = this.stack[this.stack.length - 1];
      const atRecords = top !== undefined && top.records && this.element === undefined && c !== COMMA && c !== CLOSE_BRACKET;
      if (atRecords) {
        this.element = { line: this.line, depth: this.stack.length, parts: [], primitive: c !== OPEN_BRACE && c !== OPEN_BRACKET };
        start = i;
      }
      if (this.rootKind === undefined) {
        this.rootKind = c === OPEN_BRACKET ? 'array' : c === OPEN_BRACE ? 'object' : 'other';
        if (this.rootKind === 'other') throw new ScanError(this.line, `expected a JSON array or an object with a "${this.arrayKey}" array`);
      }
      if (c === QUOTE) {
        this.inString = true;
        if (top !== undefined && top.kind === 'object' && top.expectKey && this.stack.length === 1) this.key = [];
      } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
        const records =
          c === OPEN_BRACKET &&
          this.element === undefined &&
          (this.stack.length === 0 || (this.stack.length === 1 && top?.kind === 'object' && top.key === this.arrayKey));
        if (records) this.recordsFound = true;
        this.stack.push({ kind: c === OPEN_BRACE ? 'object' : 'array', records, expectKey: c === OPEN_BRACE, key: undefined });
      } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        const frame = this.stack.pop();
        if (frame === undefined || (frame.kind === 'object') !== (c === CLOSE_BRACE)) {
          throw new ScanError(this.line, `unbalanced "${chunk[i]}"`);
        }
        if (this.stack.length === 0) this.rootClosed = true;
        const open = this.element;
        if (open !== undefined && !open.primitive && this.stack.length === open.depth) {
          done.push(this.finish(chunk.slice(start, i + 1)));
        }
      } else if (c === COLON) {
        if (top?.kind === 'object') top.expectKey = false;
      } else if (c === COMMA) {
        if (top?.kind === 'object') top.expectKey = true;
      }
    }
    if (this.element !== undefined) this.element.parts.push(chunk.slice(start));
    return done;
  }

  /** Call at end of input: checks the document was complete and held the record array. */
  end(): ScannedElement[] {
    const done: ScannedElement[] = [];
    if (this.element !== undefined && this.element.primitive && !this.inString) done.push(this.finish(''));
    if (this.rootKind === undefined) throw new ScanError(this.line, 'the file is empty; expected a JSON array');
    if (this.inString || this.stack.length > 0 || this.element !== undefined) {
      throw new ScanError(this.line, 'unexpected end of file: the JSON document is truncated');
    }
    if (!this.recordsFound) {
      throw new ScanError(1, `the root object has no "${this.arrayKey}" array; expected a JSON array or {"${this.arrayKey}": [...]}`);
    }
    return done;
  }

  private finish(tail: string): ScannedElement {
    const el = this.element as Element;
    this.element = undefined;
    el.parts.push(tail);
    return { line: el.line, text: el.parts.join('') };
  }

  private finishKey(): void {
    const raw = (this.key as string[]).join('');
    this.key = undefined;
    const top = this.stack[this.stack.length - 1];
    if (top === undefined) return;
    try {
      top.key = JSON.parse(`"${raw}"`) as string;
    } catch {
      top.key = raw;
    }
  }
}

/** An array element's source text and the line where it starts. @internal */
export interface ScannedElement {
  readonly line: number;
  readonly text: string;
}

/** A structural error outside any record. @internal */
export class ScanError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

interface Frame {
  readonly kind: 'array' | 'object';
  readonly records: boolean;
  expectKey: boolean;
  key: string | undefined;
}

interface Element {
  readonly line: number;
  readonly depth: number;
  readonly parts: string[];
  readonly primitive: boolean;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const NEWLINE = 0x0a;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

function isSpace(c: number): boolean {
  return c === 0x20 || c === NEWLINE || c === 0x0d || c === 0x09 || c === 0xfeff;
}
