import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PredictionWriter, readPredictions } from './predictions.js';
import { percentile, summarizeLatency } from './stats.js';
import { readTestSet } from './test-set.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'lora-eval-'));

describe('predictions JSONL', () => {
  it('appends batches and reads them back; a missing file is empty', () => {
    const file = join(tmp(), 'p.jsonl');
    expect(readPredictions(file)).toEqual([]);
    const w = new PredictionWriter(file);
    w.append([{ id: 'a', prompt: 'p', prediction: 'x', reference: { k: 1 } }]);
    w.append([{ id: 'b', prompt: 'p', prediction: 'y' }]);
    w.close();
    expect(readPredictions(file).map((r) => r.id)).toEqual(['a', 'b']);
    expect(readPredictions(file)[0]?.reference).toEqual({ k: 1 });
  });
  it('drops a final line cut short by a crash and truncates it from the file', () => {
    const file = join(tmp(), 'p.jsonl');
    writeFileSync(file, '{"id":"a","prompt":"p","prediction":"x"}\n{"id":"b","prompt":"p","predi');
    expect(readPredictions(file).map((r) => r.id)).toEqual(['a']);
    expect(readFileSync(file, 'utf8')).toBe('{"id":"a","prompt":"p","prediction":"x"}\n');
    appendFileSync(file, '{"id":"b","prompt":"p","prediction":"y"}\n');
    expect(readPredictions(file).map((r) => r.id)).toEqual(['a', 'b']);
  });
  it('names the file and line of a bad line in the middle', () => {
    const file = join(tmp(), 'p.jsonl');
    writeFileSync(file, '{"id":"a","prompt":"p","prediction":"x"}\n{"id":3}\n{"id":"c","prompt":"p","prediction":"x"}\n');
    expect(() => readPredictions(file)).toThrow(/p\.jsonl:2/);
  });
});

describe('test sets', () => {
  it('reads JSONL and JSON arrays, turns numeric ids into strings, rejects duplicates and empty rows', async () => {
    const dir = tmp();
    writeFileSync(
      join(dir, 't.jsonl'),
      '{"id": 1, "prompt": "a", "reference": "x"}\n\n{"id": "2", "messages": [{"role": "user", "content": "b"}]}\n',
    );
    expect((await readTestSet(join(dir, 't.jsonl'))).map((e) => e.id)).toEqual(['1', '2']);
    writeFileSync(join(dir, 't.json'), '[{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]');
    await expect(readTestSet(join(dir, 't.json'))).rejects.toThrow(/appears twice/);
    writeFileSync(join(dir, 'bad.jsonl'), '{"id": "a"}\n');
    await expect(readTestSet(join(dir, 'bad.jsonl'))).rejects.toThrow(/bad\.jsonl:1.*prompt/);
  });
});

describe('latency summary', () => {
  it('uses NumPy-style linear percentiles', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50], 95)).toBeCloseTo(48, 12);
    expect(summarizeLatency([3, 1, 2])).toEqual({ mean: 2, p50: 2, p95: 2.9, count: 3 });
  });
});
