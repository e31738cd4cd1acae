import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssetNotFoundError, FileFormatError } from '@lora/core';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES_DIR, fixtures } from './__fixtures__/safetensors-fixtures.js';
import { SafetensorsReader } from './safetensors-reader.js';
import { openWeights, SAFETENSORS_INDEX_NAME, ShardedWeightSource } from './sharded.js';

const SHARDED = `${FIXTURES_DIR}sharded`;
const INDEX = `${SHARDED}/${SAFETENSORS_INDEX_NAME}`;
const tmp = mkdtempSync(join(tmpdir(), 'lora-sharded-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A private copy of the sharded fixture that a test may break. */
function copyOfSharded(name: string): string {
  const dir = join(tmp, name);
  cpSync(SHARDED, dir, { recursive: true });
  return dir;
}

describe('ShardedWeightSource', () => {
  it('reads every tensor of a huggingface_hub sharded checkpoint', async () => {
    const weights = await ShardedWeightSource.open(INDEX);
    try {
      const expected = fixtures.sharded.tensors;
      expect(weights.keys()).toEqual(Object.keys(expected));
      expect(weights.metadata()?.total_size).toBeGreaterThan(0);
      for (const [name, t] of Object.entries(expected)) {
        expect(weights.shape(name)).toEqual(t.shape);
        const host = await weights.get(name);
        expect(host.dtype).toBe('float32');
        expect([...new Uint32Array(host.data.buffer)]).toEqual(t.expected.dtype === 'float32' ? t.expected.bits : []);
      }
      expect(weights.has('lm_head.weight')).toBe(false);
      await expect(weights.get('lm_head.weight')).rejects.toThrow(/index\.json \(lm_head\.weight\): the index has no tensor/);
    } finally {
      await weights.close();
    }
  });

  it('names the index file and tensor when a shard is missing', async () => {
    const dir = copyOfSharded('missing-shard');
    const index = JSON.parse(readFileSync(join(dir, SAFETENSORS_INDEX_NAME), 'utf8')) as { weight_map: Record<string, string> };
    const [tensor, shard] = Object.entries(index.weight_map).at(-1) ?? ['', ''];
    unlinkSync(join(dir, shard));
    const error = await ShardedWeightSource.open(join(dir, SAFETENSORS_INDEX_NAME)).catch((e: unknown) => e);
    expect(FileFormatError.isInstance(error)).toBe(true);
    expect((error as FileFormatError).file).toBe(join(dir, SAFETENSORS_INDEX_NAME));
    expect((error as FileFormatError).field).toBe(Object.keys(index.weight_map).find((k) => index.weight_map[k] === shard));
    expect((error as Error).message).toContain(`shard "${shard}"`);
    expect(tensor).not.toBe('');
  });

  it('names the index file and tensor when a shard lacks a listed tensor', async () => {
    const dir = copyOfSharded('missing-tensor');
    const path = join(dir, SAFETENSORS_INDEX_NAME);
    const index = JSON.parse(readFileSync(path, 'utf8')) as { weight_map: Record<string, string> };
    const [first] = Object.values(index.weight_map);
    index.weight_map['model.norm.weight'] = first ?? '';
    writeFileSync(path, JSON.stringify(index));
    await expect(ShardedWeightSource.open(path)).rejects.toThrow(
      /\(model\.norm\.weight\): shard "model-00001-of-00003\.safetensors" has no tensor/,
    );
  });

  it('validates the index with a schema', async () => {
    const dir = copyOfSharded('bad-index');
    const path = join(dir, SAFETENSORS_INDEX_NAME);
    writeFileSync(path, JSON.stringify({ metadata: { total_size: 1 }, weight_map: { w: 3 } }));
    await expect(ShardedWeightSource.open(path)).rejects.toThrow(/index\.json \(weight_map\.w\)/);
  });
});

describe('openWeights', () => {
  it('opens a sharded directory through its index', async () => {
    const weights = await openWeights(SHARDED);
    expect(weights).toBeInstanceOf(ShardedWeightSource);
    expect(weights.keys()).toEqual(Object.keys(fixtures.sharded.tensors));
    await weights.close();
  });

  it('prefers model.safetensors', async () => {
    const dir = join(tmp, 'single');
    cpSync(`${FIXTURES_DIR}dtypes.safetensors`, join(dir, 'model.safetensors'));
    const weights = await openWeights(dir);
    expect(weights).toBeInstanceOf(SafetensorsReader);
    expect(weights.has('float.bf16')).toBe(true);
    await weights.close();
  });

  it('lists both places it looked when there are no weights', async () => {
    const error = await openWeights(join(FIXTURES_DIR, 'corrupt')).catch((e: unknown) => e);
    expect(AssetNotFoundError.isInstance(error)).toBe(true);
    expect((error as AssetNotFoundError).searched).toEqual([
      join(FIXTURES_DIR, 'corrupt', 'model.safetensors'),
      join(FIXTURES_DIR, 'corrupt', SAFETENSORS_INDEX_NAME),
    ]);
    expect((error as Error).message).toMatch(/model\.safetensors\n.*model\.safetensors\.index\.json/);
  });
});
