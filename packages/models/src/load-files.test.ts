import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError } from '@lora/core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from './load.js';
import { loadModelFromFiles } from './load-files.js';
import { setupTestBackend } from './test/index.js';

const FIXTURES = join(import.meta.dirname, '../../../fixtures');
const assets = process.env.LORA_ASSETS_DIR;

beforeAll(async () => {
  await setupTestBackend();
});

/** Logits of both models on the same ids: they must be bit-identical (same weights, same code). */
async function expectSameLogits(a: tf.Tensor3D, b: tf.Tensor3D): Promise<void> {
  expect(a.shape).toEqual(b.shape);
  expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
  tf.dispose([a, b]);
}

describe('loadModelFromFiles', () => {
  it('loads a Hugging Face model from config.json + model.safetensors in memory as loadModel does from the folder', async () => {
    const dir = join(FIXTURES, 'tiny-llama');
    const files = {
      'config.json': await readFile(join(dir, 'config.json')),
      'generation_config.json': new Blob([await readFile(join(dir, 'generation_config.json'))]),
      'model.safetensors': new Blob([await readFile(join(dir, 'model.safetensors'))]),
    };
    const fromFiles = await loadModelFromFiles(files, { nameOrPath: 'tiny-llama' });
    const fromDisk = await loadModel(dir);
    expect(fromFiles.format).toBe('safetensors');
    expect(fromFiles.config).toEqual({ ...fromDisk.config, nameOrPath: 'tiny-llama' });
    const ids = tf.tensor2d([[1, 5, 9, 2]], undefined, 'int32');
    await expectSameLogits(fromFiles.model.forward(ids), fromDisk.model.forward(ids));
    ids.dispose();
    fromFiles.model.dispose();
    fromDisk.model.dispose();
  });

  it.skipIf(assets === undefined)('loads a llama2.c checkpoint (stories260K.bin) from bytes', async () => {
    const dir = join(assets as string, 'models/stories260K');
    const bytes = new Uint8Array(await readFile(join(dir, 'stories260K.bin')));
    const fromFiles = await loadModelFromFiles({ 'stories260K.bin': bytes.buffer, 'tok512.bin': new Uint8Array(4) });
    const fromDisk = await loadModel(dir);
    expect(fromFiles.format).toBe('llama2c');
    expect(fromFiles.config.nameOrPath).toBe('<memory>');
    const ids = tf.tensor2d([[1, 403, 407, 261, 378]], undefined, 'int32');
    await expectSameLogits(fromFiles.model.forward(ids), fromDisk.model.forward(ids));
    ids.dispose();
    fromFiles.model.dispose();
    fromDisk.model.dispose();
  });

  it('names what is missing or malformed', async () => {
    const none = await loadModelFromFiles({ 'tok512.bin': new Uint8Array(4) }).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(none)).toBe(true);
    expect((none as Error).message).toMatch(/found neither config\.json \(Hugging Face\) nor a llama2\.c \.bin checkpoint/);
    const config = await readFile(join(FIXTURES, 'tiny-llama', 'config.json'));
    const noWeights = await loadModelFromFiles({ 'config.json': config }).catch((e: unknown) => e);
    expect(AssetNotFoundError.isInstance(noWeights)).toBe(true);
    expect((noWeights as Error).message).toMatch(/model\.safetensors/);
    const badJson = await loadModelFromFiles({ 'config.json': new TextEncoder().encode('{"a":') }).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(badJson)).toBe(true);
    expect((badJson as FileFormatError).file).toBe('config.json');
  });
});
