import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { METRICS_FORMAT_VERSION, type RunMetrics, writeComparison } from './report.js';

const run = (name: string, exact: number, latency: number): RunMetrics => ({
  formatVersion: METRICS_FORMAT_VERSION,
  run: name,
  createdAt: '2026-12-06T00:00:00Z',
  count: 4,
  predictionsFile: `predictions_${name}.jsonl`,
  metrics: { raw: { exact_match: exact } },
  details: { raw: {} },
  stats: {
    total: 4,
    generated: 4,
    resumed: 0,
    latencyMs: { mean: latency, p50: latency + 0.00123, p95: latency + 0.45678, count: 4 },
    tokensPerSecond: 270.041042,
    newTokens: 544,
    wallMs: 2014.37525,
    peakTensorBytes: 2435344,
  },
});

describe('writeComparison', () => {
  it('shows latencies in ms with one decimal in the summary and keeps full precision in the CSV', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-report-'));
    const files = writeComparison(dir, [run('model', 0, 2014.37525)]);
    const summary = readFileSync(files.summary, 'utf8');
    expect(summary).toContain('| latency_mean_ms | 2014.4 |');
    expect(summary).toContain('| latency_p95_ms | 2014.8 |');
    expect(summary).toContain('| tokens_per_second | 270.0 |');
    expect(summary).toContain('| peak_tensor_bytes | 2435344 |');
    expect(readFileSync(files.table, 'utf8')).toContain('latency_mean_ms,2014.37525');
    // All-zero metrics: the chart says so instead of looking empty.
    expect(readFileSync(join(dir, 'plots/metrics.svg'), 'utf8')).toContain('all values are 0');
  });
});
