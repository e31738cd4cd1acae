import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileFormatError } from './errors/file-format-error.js';
import { readRegularTextFile } from './read-file.js';

const dir = mkdtempSync(join(tmpdir(), 'lora-read-file-'));

async function failure(promise: Promise<unknown>): Promise<FileFormatError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(FileFormatError.isInstance(error)).toBe(true);
  return error as FileFormatError;
}

describe('readRegularTextFile', () => {
  it('reads a regular UTF-8 file (BOM dropped)', async () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, '\uFEFF{"a":"é"}');
    await expect(readRegularTextFile(file, 'model config')).resolves.toBe('{"a":"é"}');
  });

  it('refuses a FIFO without opening it (no hang)', async () => {
    const fifo = join(dir, 'config.json');
    execFileSync('mkfifo', [fifo]);
    const error = await failure(readRegularTextFile(fifo, 'model config'));
    expect(error.file).toBe(fifo);
    expect(error.message).toMatch(/model config must be a regular file, but this is a FIFO/);
  });

  it('refuses a device and a folder', async () => {
    expect((await failure(readRegularTextFile('/dev/zero', 'chat template'))).message).toMatch(
      /\/dev\/zero: the chat template must be a regular file, but this is a device/,
    );
    expect((await failure(readRegularTextFile(dir, 'recipe'))).message).toMatch(/this is a folder/);
  });

  it('names a missing file', async () => {
    const missing = join(dir, 'nope.jinja');
    expect((await failure(readRegularTextFile(missing, 'chat template'))).message).toBe(`${missing}: the chat template does not exist.`);
  });

  it('refuses a file over maxBytes before reading it', async () => {
    const file = join(dir, 'big.json');
    writeFileSync(file, 'x'.repeat(3 * 1024 * 1024));
    expect((await failure(readRegularTextFile(file, 'model config', { maxBytes: 1024 * 1024 }))).message).toMatch(
      /is 3 MiB, over the 1 MiB limit/,
    );
  });

  it('refuses invalid UTF-8 and says where', async () => {
    const file = join(dir, 'latin1.json');
    writeFileSync(file, Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe9, 0x22, 0x7d]));
    expect((await failure(readRegularTextFile(file, 'model config'))).message).toMatch(/not valid UTF-8 \(at byte 6\)/);
  });
});
