import type { ReliabilityBin } from '../metrics/calibration.js';

const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');

/**
 * Width of `text` in pixels, estimated generously (0.62 em per character, 0.68 bold): SVG text
 * is not measured when the layout is computed, so margins and canvas size use this bound.
 */
function textWidth(text: string, fontSize: number, bold = false): number {
  return Math.ceil(text.length * fontSize * (bold ? 0.68 : 0.62));
}

/** A 0…top axis in at most 5 steps of a round size (1, 2, 2.5 or 5 × 10^k) covering `max`. */
function niceAxis(max: number): { top: number; ticks: number[]; decimals: number } {
  if (max === 1) return { top: 1, ticks: [0, 0.25, 0.5, 0.75, 1], decimals: 3 };
  const magnitude = 10 ** Math.floor(Math.log10(max / 5));
  const m = [1, 2, 2.5, 5, 10].find((k) => Math.ceil(max / (k * magnitude) - 1e-9) <= 5) ?? 10;
  const step = m * magnitude;
  const n = Math.ceil(max / step - 1e-9);
  const ticks = Array.from({ length: n + 1 }, (_, i) => Number((i * step).toPrecision(12)));
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (m === 2.5 ? 1 : 0));
  return { top: n * step, ticks, decimals };
}

const ROTATION = 35;
const COS = Math.cos((ROTATION * Math.PI) / 180);
const SIN = Math.sin((ROTATION * Math.PI) / 180);

/**
 * A grouped bar chart as standalone SVG: one group per metric, one bar per series (variant).
 * Values are drawn on a 0…`max` axis (default: 1, or a round number above the largest value when
 * that is above 1). The canvas grows to hold the title, the tick labels, the rotated category
 * labels and the legend, so none is clipped. When every value is 0 (or none is finite) the plot
 * says so (`all values are 0`), so it does not read as an empty or broken chart.
 *
 * @example
 * ```ts
 * const svg = groupedBarChart('Metrics', ['acc', 'f1'], [{ name: 'base', values: [0.5, 0.4] }, { name: 'lora', values: [0.7, 0.6] }]);
 * ```
 */
export function groupedBarChart(
  title: string,
  categories: readonly string[],
  series: readonly { name: string; values: readonly number[] }[],
  options: { max?: number } = {},
): string {
  const finite = series.flatMap((s) => s.values.filter(Number.isFinite));
  const axis =
    options.max === undefined
      ? niceAxis(Math.max(1, ...finite))
      : { top: options.max, ticks: [0, 1, 2, 3, 4].map((t) => (options.max as number) * (t / 4)), decimals: 3 };
  const max = axis.top;
  const barW = 18;
  const groupW = Math.max(60, series.length * barW + 24);
  const tickLabels = axis.ticks.map((v) => v.toFixed(axis.decimals));
  const widestTick = Math.max(...tickLabels.map((t) => textWidth(t, 11)));
  const widestCategory = Math.max(0, ...categories.map((c) => textWidth(c, 11)));
  // The first rotated category label ends at its group's centre and must not leave the canvas.
  const left = Math.ceil(Math.max(50, widestTick + 12, widestCategory * COS + 6 - 12 - (series.length * barW) / 2));
  // Bars of 0 (or none at all) would leave the plot looking empty: a line under the title says so.
  const note = finite.length === 0 ? 'no values (all n/a)' : finite.every((v) => v === 0) ? 'all values are 0' : undefined;
  const top = note === undefined ? 40 : 54;
  const plotH = 220;
  const plotRight = left + categories.length * groupW;
  const legendW = 20 + 18 + Math.max(0, ...series.map((s) => textWidth(s.name, 11))) + 10;
  const width = Math.ceil(
    Math.max(plotRight + legendW, left + textWidth(title, 14, true) + 10, left + (note === undefined ? 0 : textWidth(note, 11) + 10)),
  );
  const height = Math.ceil(top + plotH + Math.max(40, 14 + widestCategory * SIN + 16));
  const y = (v: number): number => top + plotH - (Math.max(0, Math.min(v, max)) / max) * plotH;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  if (note !== undefined) parts.push(`<text x="${left}" y="38" fill="#555" font-style="italic">${note}</text>`);
  axis.ticks.forEach((v, t) => {
    parts.push(`<line x1="${left}" x2="${plotRight}" y1="${y(v)}" y2="${y(v)}" stroke="#ddd"/>`);
    parts.push(`<text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${tickLabels[t]}</text>`);
  });
  categories.forEach((c, ci) => {
    const gx = left + ci * groupW + 12;
    series.forEach((s, si) => {
      const v = s.values[ci] ?? Number.NaN;
      const x = gx + si * barW;
      if (Number.isFinite(v)) {
        // A value of 0 still gets a 2 px bar, so it reads as "measured: 0", not as missing.
        const h = Math.max(top + plotH - y(v), 2);
        parts.push(
          `<rect x="${x}" y="${top + plotH - h}" width="${barW - 3}" height="${h}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${s.name} ${c}: ${fmt(v)}`)}</title></rect>`,
        );
      }
    });
    const cx = gx + (series.length * barW) / 2;
    parts.push(
      `<text x="${cx}" y="${top + plotH + 14}" text-anchor="end" transform="rotate(-${ROTATION} ${cx} ${top + plotH + 14})">${esc(c)}</text>`,
    );
  });
  series.forEach((s, si) => {
    const lx = plotRight + 20;
    const ly = top + si * 18;
    parts.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${PALETTE[si % PALETTE.length]}"/><text x="${lx + 18}" y="${ly + 10}">${esc(s.name)}</text>`,
    );
  });
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${top + plotH}" stroke="#333"/>`);
  parts.push(`<line x1="${left}" x2="${plotRight}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`, '</svg>');
  return `${parts.join('\n')}\n`;
}

/**
 * A reliability diagram as standalone SVG: per-bin accuracy bars against the diagonal of perfect
 * calibration, with the bin's mean confidence marked and the ECE in the title (the canvas widens
 * for a long title). Without any prediction in the bins it says so instead of drawing an empty frame.
 */
export function reliabilityDiagram(title: string, bins: readonly ReliabilityBin[], ece: number): string {
  const size = 260;
  const left = 50;
  const top = 40;
  const empty = bins.every((b) => b.count === 0);
  const heading = empty ? `${title} (no confidence values)` : `${title} (ECE ${fmt(ece)})`;
  const width = Math.max(left + size + 30, left + textWidth(heading, 14, true) + 10);
  const x = (v: number): number => left + v * size;
  const y = (v: number): number => top + size - v * size;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${top + size + 50}" viewBox="0 0 ${width} ${top + size + 50}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="20" font-size="14" font-weight="bold">${esc(heading)}</text>`,
    `<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#333"/>`,
  ];
  for (const b of bins) {
    if (b.count === 0) continue;
    parts.push(
      `<rect x="${x(b.lower) + 1}" y="${y(b.accuracy)}" width="${(b.upper - b.lower) * size - 2}" height="${y(0) - y(b.accuracy)}" fill="#4e79a7" opacity="0.8"><title>${esc(`(${b.lower.toFixed(2)}, ${b.upper.toFixed(2)}]: n=${b.count}, acc ${fmt(b.accuracy)}, conf ${fmt(b.confidence)}`)}</title></rect>`,
    );
    parts.push(`<circle cx="${x(b.confidence)}" cy="${y(b.confidence)}" r="3" fill="#e15759"/>`);
  }
  parts.push(`<line x1="${x(0)}" y1="${y(0)}" x2="${x(1)}" y2="${y(1)}" stroke="#999" stroke-dasharray="4 3"/>`);
  if (empty) parts.push(`<text x="${x(0.5)}" y="${y(0.75)}" text-anchor="middle" fill="#666">no prediction carried a confidence</text>`);
  for (let t = 0; t <= 4; t++) {
    const v = t / 4;
    parts.push(
      `<text x="${x(v)}" y="${top + size + 14}" text-anchor="middle">${v}</text><text x="${left - 6}" y="${y(v) + 4}" text-anchor="end">${v}</text>`,
    );
  }
  parts.push(`<text x="${left + size / 2}" y="${top + size + 32}" text-anchor="middle">confidence</text>`, '</svg>');
  return `${parts.join('\n')}\n`;
}
