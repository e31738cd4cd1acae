import { describe, expect, it } from 'vitest';
import { groupedBarChart, reliabilityDiagram } from './svg.js';

/** The canvas width and every `<text>` with its x, anchor and content. */
function layout(svg: string): { width: number; texts: { x: number; anchor: string; text: string; rotated: boolean }[] } {
  const width = Number(/<svg [^>]*width="([\d.]+)"/.exec(svg)?.[1]);
  const texts = [...svg.matchAll(/<text x="([\d.-]+)"([^>]*)>([^<]*)<\/text>/g)].map((m) => ({
    x: Number(m[1]),
    anchor: /text-anchor="(\w+)"/.exec(m[2] ?? '')?.[1] ?? 'start',
    text: m[3] ?? '',
    rotated: (m[2] ?? '').includes('rotate('),
  }));
  return { width, texts };
}

/** Generous width estimate of 11 px text (0.62 em per character), as the chart lays it out. */
const w11 = (s: string): number => s.length * 11 * 0.62;

describe('groupedBarChart', () => {
  it('keeps the 0…1 axis of rate metrics', () => {
    const svg = groupedBarChart('Metrics', ['acc'], [{ name: 'base', values: [0.5] }], { max: 1 });
    expect(layout(svg).texts.map((t) => t.text)).toEqual(expect.arrayContaining(['0.000', '0.250', '0.500', '0.750', '1.000']));
  });

  it('uses round ticks above 1 and a canvas that holds the title, tick labels and rotated labels', () => {
    const title = 'Evaluation time per model (s, all epochs)';
    const svg = groupedBarChart(title, ['eval seconds'], [{ name: 'qlora-r16', values: [212.245] }]);
    const { width, texts } = layout(svg);
    const ticks = texts.filter((t) => t.anchor === 'end' && !t.rotated).map((t) => t.text);
    expect(ticks).toEqual(['0', '50', '100', '150', '200', '250']);
    // Right-anchored tick labels end at x: their start must stay on the canvas.
    for (const t of texts.filter((t) => t.anchor === 'end' && !t.rotated)) expect(t.x - w11(t.text)).toBeGreaterThanOrEqual(0);
    // The rotated category label ends at x and runs up-left at 35°.
    const category = texts.find((t) => t.rotated);
    expect(category !== undefined && category.x - w11(category.text) * Math.cos((35 * Math.PI) / 180)).toBeGreaterThanOrEqual(0);
    // The bold 14 px title starts at its x and fits.
    const heading = texts.find((t) => t.text === title);
    expect((heading?.x ?? 0) + title.length * 14 * 0.62).toBeLessThanOrEqual(width);
    // Legend names fit on the right.
    const legend = texts.find((t) => t.text === 'qlora-r16');
    expect((legend?.x ?? 0) + w11('qlora-r16')).toBeLessThanOrEqual(width);
  });

  it('says when every value is 0 or none is finite, and only then', () => {
    const chart = (values: number[]) => groupedBarChart('M', ['a', 'b'], [{ name: 's', values }], { max: 1 });
    expect(chart([0, 0])).toContain('>all values are 0</text>');
    expect(chart([Number.NaN, Number.NaN])).toContain('>no values (all n/a)</text>');
    expect(chart([0, 0.1])).not.toMatch(/all values are 0|no values/);
    // The tick labels and the category labels are still drawn.
    expect(layout(chart([0, 0])).texts.map((t) => t.text)).toEqual(expect.arrayContaining(['0.000', '1.000', 'a', 'b']));
  });

  it('picks steps of 1, 2, 2.5 or 5 × 10^k', () => {
    const ticksOf = (v: number) =>
      layout(groupedBarChart('T', ['a'], [{ name: 's', values: [v] }]))
        .texts.filter((t) => t.anchor === 'end' && !t.rotated)
        .map((t) => t.text);
    expect(ticksOf(1.2)).toEqual(['0.00', '0.25', '0.50', '0.75', '1.00', '1.25']);
    expect(ticksOf(132.8)).toEqual(['0', '50', '100', '150']);
    expect(ticksOf(9)).toEqual(['0', '2', '4', '6', '8', '10']);
    expect(ticksOf(22)).toEqual(['0', '5', '10', '15', '20', '25']);
    expect(ticksOf(2.3)).toEqual(['0.0', '0.5', '1.0', '1.5', '2.0', '2.5']);
  });
});

describe('reliabilityDiagram', () => {
  it('widens the canvas for a long title', () => {
    const title = 'Reliability: qlora-r16-base';
    const svg = reliabilityDiagram(title, [{ lower: 0.4, upper: 0.5, count: 3, accuracy: 0.33, confidence: 0.45 }], 0.272);
    const { width, texts } = layout(svg);
    const heading = texts.find((t) => t.text.startsWith(title));
    expect(heading?.text).toBe(`${title} (ECE 0.272)`);
    expect((heading?.x ?? 0) + (heading?.text.length ?? 0) * 14 * 0.62).toBeLessThanOrEqual(width);
  });

  it('says so when no prediction carried a confidence', () => {
    const svg = reliabilityDiagram(
      'Reliability: base',
      [{ lower: 0, upper: 0.1, count: 0, accuracy: Number.NaN, confidence: Number.NaN }],
      0,
    );
    expect(svg).toContain('Reliability: base (no confidence values)');
    expect(svg).toContain('no prediction carried a confidence');
    expect(svg).not.toContain('ECE');
  });
});

describe('groupedBarChart zero values', () => {
  it('draws a measured 0 as a thin bar and leaves NaN out', () => {
    const svg = groupedBarChart('T', ['a', 'b'], [{ name: 's', values: [0, Number.NaN] }], { max: 1 });
    const bars = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="15" height="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(bars).toEqual([2]);
  });
});
