// The ratio chart of `pnpm bench` (bench/results/bench.svg).

/** Width of `text` in px at `size` (sans-serif, a generous average so labels are never clipped). */
const textWidth = (text, size) => String(text).length * size * 0.62;

/**
 * A horizontal bar chart of the ratios @lora ÷ reference with the 1.0 parity line: one bar per
 * workload (a lighter bar under it for the ratio per CPU-second where measured). The canvas grows
 * with the longest label and the title so nothing is clipped.
 */
export function ratioChart(items, backend, subtitle = '') {
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const barH = 22;
  const gap = 10;
  const left = Math.ceil(Math.max(120, ...items.map((r) => textWidth(r.workload, 12))) + 20);
  const plotW = 420;
  const valueW = Math.max(...items.map((r) => textWidth(`${r.ratio.toFixed(2)} (CPU-s 0.00)`, 12)), 40) + 16;
  const title = `@lora ÷ reference (same threads; ≥ 1 is the goal) — backend ${backend}`;
  const width = Math.ceil(Math.max(left + plotW + valueW, textWidth(title, 14) + 20, textWidth(subtitle, 12) + 20));
  const top = subtitle === '' ? 40 : 58;
  const max = Math.max(1.2, ...items.map((r) => Math.max(r.ratio, r.cpuTimeRatio ?? 0))) * 1.05;
  const x = (v) => left + (plotW * v) / max;
  const height = top + items.length * (barH + gap) + 40;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  if (subtitle !== '') parts.push(`<text x="10" y="38" fill="#555">${esc(subtitle)}</text>`);
  items.forEach((r, i) => {
    const y = top + i * (barH + gap);
    const color = r.ratio >= 1 ? '#2e7d32' : '#c62828';
    parts.push(`<text x="${left - 8}" y="${y + barH * 0.7}" text-anchor="end">${esc(r.workload)}</text>`);
    parts.push(
      `<rect x="${left}" y="${y}" width="${Math.max(1, x(r.ratio) - left)}" height="${r.cpuTimeRatio ? barH * 0.6 : barH}" fill="${color}"/>`,
    );
    if (r.cpuTimeRatio)
      parts.push(
        `<rect x="${left}" y="${y + barH * 0.62}" width="${Math.max(1, x(r.cpuTimeRatio) - left)}" height="${barH * 0.38}" fill="${color}" opacity="0.45"/>`,
      );
    parts.push(
      `<text x="${x(Math.max(r.ratio, r.cpuTimeRatio ?? 0)) + 6}" y="${y + barH * 0.7}">${r.ratio.toFixed(2)}${r.cpuTimeRatio ? ` (CPU-s ${r.cpuTimeRatio.toFixed(2)})` : ''}</text>`,
    );
  });
  const bottom = top + items.length * (barH + gap);
  parts.push(`<line x1="${x(1)}" y1="${top - 6}" x2="${x(1)}" y2="${bottom}" stroke="#333" stroke-dasharray="4 3"/>`);
  parts.push(`<text x="${x(1)}" y="${bottom + 16}" text-anchor="middle">1.0</text>`);
  parts.push(`<line x1="${left}" y1="${top - 6}" x2="${left}" y2="${bottom}" stroke="#333"/>`);
  parts.push(`<text x="${left}" y="${bottom + 16}" text-anchor="middle">0</text>`);
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
