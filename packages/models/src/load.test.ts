import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileFormatError } from '@lora/core';
import { describe, expect, it } from 'vitest';
import { openCheckpoint } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'lora-load-'));

async function failure(promise: Promise<unknown>): Promise<FileFormatError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(FileFormatError.isInstance(error)).toBe(true);
  return error as FileFormatError;
}

describe('openCheckpoint on paths that are not checkpoints', () => {
  it('refuses a device such as /dev/zero (no ENOTDIR stack)', async () => {
    const error = await failure(openCheckpoint('/dev/zero'));
    expect(error.message).toMatch(/^\/dev\/zero: is neither a regular file nor a folder/);
  });

  it('refuses a config.json that is a FIFO instead of hanging on it', async () => {
    const model = join(dir, 'fifo-model');
    mkdirSync(model);
    execFileSync('mkfifo', [join(model, 'config.json')]);
    const error = await failure(openCheckpoint(model));
    expect(error.file).toBe(join(model, 'config.json'));
    expect(error.message).toMatch(/model config must be a regular file, but this is a FIFO/);
  });
});
