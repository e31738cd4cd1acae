import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { nodeBuiltin } from '@lora/core/internal';

/**
 * Random-access, read-only bytes: a file on disk, a browser `Blob`, a buffer in memory. Weight
 * readers only ever ask for the byte ranges they need, so a checkpoint is never read whole.
 */
export interface FileSource {
  /** Path or descriptive name, used in error messages. */
  readonly name: string;
  /** Total size in bytes. */
  size(): number;
  /**
   * Reads exactly `length` bytes starting at `offset` into a new array that the caller owns.
   * Throws a `FileFormatError` if the range runs past the end.
   */
  read(offset: number, length: number): Promise<Uint8Array>;
  /** Releases the underlying handle. Reading after `close()` is an error. */
  close(): Promise<void>;
}

/** Opens a {@link FileSource} by path; throws `AssetNotFoundError` when nothing is there. */
export type FileOpener = (path: string) => Promise<FileSource>;

function checkRange(source: FileSource, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
    throw new FileFormatError({ file: source.name, message: `invalid byte range ${offset}+${length}` });
  }
  if (offset + length > source.size()) {
    throw new FileFormatError({
      file: source.name,
      message: `byte range ${offset}..${offset + length} runs past the end of the file (${source.size()} bytes)`,
    });
  }
}

/** A {@link FileSource} over bytes already in memory (browsers, tests, downloaded buffers). */
export class MemoryFileSource implements FileSource {
  private readonly bytes: Uint8Array;

  constructor(
    bytes: Uint8Array | ArrayBuffer,
    readonly name = '<memory>',
  ) {
    this.bytes = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  }

  size(): number {
    return this.bytes.byteLength;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.bytes.slice(offset, offset + length);
  }

  async close(): Promise<void> {}
}

/** A {@link FileSource} over a `Blob` or browser `File`; each read slices the blob. */
export class BlobFileSource implements FileSource {
  constructor(
    private readonly blob: Blob,
    readonly name = blob instanceof File ? blob.name : '<blob>',
  ) {}

  size(): number {
    return this.blob.size;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return new Uint8Array(await this.blob.slice(offset, offset + length).arrayBuffer());
  }

  async close(): Promise<void> {}
}

/** Minimal view of `fs/promises.FileHandle`, so this module does not import Node types eagerly. */
interface Handle {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** A {@link FileSource} over a file on disk, read with positional reads (Node). */
export class NodeFileSource implements FileSource {
  private closed = false;

  private constructor(
    private readonly handle: Handle,
    private readonly bytes: number,
    readonly name: string,
  ) {}

  /**
   * Opens `path` for reading. Throws `AssetNotFoundError` if it does not exist.
   *
   * @example
   * ```ts
   * const source = await NodeFileSource.open('model.safetensors');
   * const header = await source.read(0, 8);
   * ```
   */
  static async open(path: string): Promise<NodeFileSource> {
    const fs = await nodeBuiltin('fs/promises', 'NodeFileSource.open(path)');
    let handle;
    try {
      handle = await fs.open(path, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new AssetNotFoundError({ asset: path, searched: [path], cause: error });
      }
      throw error;
    }
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new FileFormatError({ file: path, message: 'not a regular file' });
      return new NodeFileSource(handle, stat.size, path);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  size(): number {
    return this.bytes;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    if (this.closed) throw new FileFormatError({ file: this.name, message: 'read after close()' });
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(out, done, length - done, offset + done);
      if (bytesRead === 0) {
        throw new FileFormatError({ file: this.name, message: `unexpected end of file at byte ${offset + done}` });
      }
      done += bytesRead;
    }
    return out;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.handle.close();
  }
}

/** The default {@link FileOpener}: files on disk through {@link NodeFileSource}. */
export const openFileSource: FileOpener = (path) => NodeFileSource.open(path);
