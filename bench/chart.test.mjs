import { describe, expect, it } from 'vitest';
import { ratioChart } from './chart.mjs';

describe('ratioChart', () => {
  const rows = [
    { workload: 'W4 decode llama-d512-L8-ffn1376-v8192', ratio: 0.35, cpuTimeRatio: 0.68 },
    { workload: 'W2 llama-d512 LoRA SFT', ratio: 1.41 },
  ];
  const svg = ratioChart(rows, 'tensorflow', 'Intel(R) Xeon(R) Processor, 2 cores · 2026-12-06');
  const width = Number(/width="(\d+)"/.exec(svg)?.[1]);
  const labelX = (label) => Number(new RegExp(`<text x="([\\d.]+)" y="[\\d.]+" text-anchor="end">${label}`).exec(svg)?.[1]);

  it('leaves room for the longest label left of the bars and for the title', () => {
    // Right-aligned labels end at labelX: at ~7.5 px per character they must start at x ≥ 0.
    expect(labelX('W4 decode llama-d512-L8-ffn1376-v8192') - 'W4 decode llama-d512-L8-ffn1376-v8192'.length * 7.5).toBeGreaterThanOrEqual(
      0,
    );
    expect(width).toBeGreaterThanOrEqual('@lora ÷ reference (same threads; ≥ 1 is the goal) — backend tensorflow'.length * 8);
    expect(svg).toContain('Intel(R) Xeon(R) Processor, 2 cores · 2026-12-06');
  });

  it('colours ratios ≥ 1 green and below red, with the CPU-second bar and value', () => {
    expect(svg).toContain('fill="#2e7d32"');
    expect(svg).toContain('fill="#c62828"');
    expect(svg).toContain('0.35 (CPU-s 0.68)');
  });
});
