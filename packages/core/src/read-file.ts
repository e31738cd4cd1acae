import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { FileFormatError } from './errors/file-format-error.js';

/** Options of {@link readRegularTextFile}. */
export interface ReadRegularTextFileOptions {
  /** Largest file accepted, in bytes (default 64 MiB): a bigger one is refused before it is read. */
  maxBytes?: number;
}

const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

function mebibytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(bytes % (1024 * 1024) === 0 ? 0 : 1)} MiB`;
}

/**
 * Checks with `stat` that `path` is a regular file (not a folder, FIFO, device or socket) and
 * returns its stat: a FIFO or `/dev/zero` is refused before any byte is read, so a read that
 * follows can neither hang nor run forever. Every failure is a {@link FileFormatError} naming the
 * file and `what` it was meant to be.
 *
 * @param what - What the file is, for messages (`"dataset file"`, `"model config"`).
 * @example
 * ```ts
 * const { size } = await statRegularFile('train.jsonl', 'dataset file');
 * ```
 */
export async function statRegularFile(path: string, what: string): Promise<Stats> {
  let info: Stats;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'ENOTDIR'
          ? 'does not exist (a parent is not a folder)'
          : `cannot be read (${code ?? (error as Error).message})`;
    throw new FileFormatError({ file: path, message: `the ${what} ${reason}.`, cause: error });
  }
  if (!info.isFile()) {
    const kind = info.isDirectory()
      ? 'a folder'
      : info.isFIFO()
        ? 'a FIFO'
        : info.isCharacterDevice() || info.isBlockDevice()
          ? 'a device'
          : info.isSocket()
            ? 'a socket'
            : 'not a regular file';
    throw new FileFormatError({ file: path, message: `the ${what} must be a regular file, but this is ${kind}.` });
  }
  return info;
}

/**
 * Reads a small UTF-8 text file (a `config.json`, a recipe, a chat template) after checking, with
 * `stat`, that it is a regular file of reasonable size: a FIFO, a device such as `/dev/zero` or a
 * folder is refused before any byte is read, so the read can neither hang nor exhaust memory.
 * Invalid UTF-8 is an error naming the byte offset. Every failure is a {@link FileFormatError}
 * naming the file and `what` it was meant to be.
 *
 * @param what - What the file is, for messages (`"model config"`, `"chat template"`).
 * @example
 * ```ts
 * const text = await readRegularTextFile('models/x/config.json', 'model config');
 * ```
 */
export async function readRegularTextFile(path: string, what: string, options: ReadRegularTextFileOptions = {}): Promise<string> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const info = await statRegularFile(path, what);
  if (info.size > maxBytes) {
    throw new FileFormatError({
      file: path,
      message: `the ${what} is ${mebibytes(info.size)}, over the ${mebibytes(maxBytes)} limit for this kind of file.`,
    });
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new FileFormatError({ file: path, message: `cannot read the ${what} (${(error as Error).message}).`, cause: error });
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch (error) {
    throw new FileFormatError({
      file: path,
      message: `the ${what} is not valid UTF-8 (at byte ${firstInvalidUtf8Byte(bytes)}).`,
      cause: error,
    });
  }
}

/** Byte offset of the first invalid UTF-8 sequence. */
function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    const need = b < 0x80 ? 0 : b >= 0xc2 && b < 0xe0 ? 1 : b >= 0xe0 && b < 0xf0 ? 2 : b >= 0xf0 && b < 0xf5 ? 3 : -1;
    if (need < 0) return i;
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(i, i + need + 1));
    } catch {
      return i;
    }
    i += need + 1;
  }
  return i;
}
