/** One line of a chart. */
export interface Series {
  readonly name: string;
  /** Points `[x, y]`; non-finite y values are left out. */
  readonly points: readonly (readonly [number, number])[];
  /** CSS colour. */
  readonly color: string;
}

/** Options of {@link lineChartSvg}. */
export interface ChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly width?: number;
  readonly height?: number;
  /** Fixed bottom of the y axis (e.g. 0 for rates); default the smallest value less 5 % of the range. */
  readonly yMin?: number;
  /** Fixed top of the y axis (e.g. 1 for rates); default the largest value plus 5 % of the range. */
  readonly yMax?: number;
}

function niceTicks(min: number, max: number, count = 5, minStep = 0): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = Math.max(minStep, ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude);
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function label(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : String(Number(v.toPrecision(4)));
}

const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** Estimated width of `text` at `fontSize` (0.62 em per character, a generous bound). */
const textWidth = (text: string, fontSize: number): number => Math.ceil(text.length * fontSize * 0.62);

/** Series with at most this many points also get a marker per point (one eval point is otherwise invisible). */
const MARKER_LIMIT = 30;

/**
 * A self-contained SVG line chart (axes, ticks, legend) — no dependencies. Sparse series (up to
 * 30 points) get a marker per point, so a series of one point still shows; the legend sits above
 * the plot area, right-aligned by its widest name, so it never covers a line; integer x values
 * (steps, epochs) get integer ticks; the canvas widens for a long title.
 */
export function lineChartSvg(series: readonly Series[], options: ChartOptions): string {
  const width = Math.max(options.width ?? 640, textWidth(options.title, 14) + 20);
  const height = options.height ?? 360;
  // Legend rows above the plot area, under the title.
  const m = { left: 64, right: 16, top: 30 + 14 * Math.max(1, series.length), bottom: 44 };
  const points = series.flatMap((s) => s.points.filter(([, y]) => Number.isFinite(y)));
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  let [x0, x1] = [Math.min(...xs, 0), Math.max(...xs, 1)];
  let [y0, y1] = points.length === 0 ? [0, 1] : [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5 * Math.abs(y0 || 1), y1 + 0.5 * Math.abs(y1 || 1)];
  const pad = (y1 - y0) * 0.05;
  [y0, y1] = [options.yMin ?? y0 - pad, options.yMax ?? y1 + pad];
  if (!(y1 > y0)) [y0, y1] = [Math.min(y0, y1), Math.min(y0, y1) + 1];
  const integerX = xs.length > 0 && xs.every((x) => Number.isInteger(x));
  const px = (x: number): number => m.left + ((x - x0) / (x1 - x0)) * (width - m.left - m.right);
  const py = (y: number): number => height - m.bottom - ((y - y0) / (y1 - y0)) * (height - m.top - m.bottom);
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(options.title)}</text>`,
  ];
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${py(t).toFixed(1)}" y2="${py(t).toFixed(1)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${(py(t) + 4).toFixed(1)}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of niceTicks(x0, x1, 5, integerX ? 1 : 0)) {
    parts.push(
      `<line x1="${px(t).toFixed(1)}" x2="${px(t).toFixed(1)}" y1="${height - m.bottom}" y2="${height - m.bottom + 4}" stroke="#333"/>`,
    );
    parts.push(`<text x="${px(t).toFixed(1)}" y="${height - m.bottom + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${height - m.bottom}" y2="${height - m.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${height - m.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(m.left + width - m.right) / 2}" y="${height - 8}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  parts.push(
    `<text transform="translate(14 ${(m.top + height - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`,
  );
  const legendX = width - m.right - 24 - Math.max(0, ...series.map((s) => textWidth(s.name, 11)));
  series.forEach((s, i) => {
    const finite = s.points.filter(([, y]) => Number.isFinite(y));
    const path = finite.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ');
    if (finite.length > 1) parts.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="1.5"/>`);
    if (finite.length <= MARKER_LIMIT)
      for (const [x, y] of finite) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    const ly = 30 + i * 14;
    parts.push(`<line x1="${legendX}" x2="${legendX + 16}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"/>`);
    parts.push(`<text x="${legendX + 20}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
