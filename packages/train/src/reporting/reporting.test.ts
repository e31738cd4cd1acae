import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setupTestBackend } from '@lora/models/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train } from '../train.js';
import { randomBatches, tinyTrainableModel } from '../test/tiny.js';
import { curvesWriter } from './curves.js';
import { jsonlLogger } from './jsonl-log.js';
import { lineChartSvg } from './plot.js';
import { formatDuration, progressReporter } from './progress.js';

function capture(isTTY: boolean): Writable & { isTTY: boolean; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  }) as Writable & { isTTY: boolean; text: () => string };
  stream.isTTY = isTTY;
  stream.text = () => text;
  return stream;
}

let dir: string;
beforeAll(async () => {
  await setupTestBackend();
  dir = await mkdtemp(join(tmpdir(), 'lora-report-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('progress, JSONL log and curves', () => {
  it('writes plain lines off a TTY, a bar on one, a JSONL log and SVG curves', async () => {
    const lines = capture(false);
    const tty = capture(true);
    const model = await tinyTrainableModel();
    const log = join(dir, 'log.jsonl');
    await train({
      model,
      data: randomBatches(2, 2, 12),
      evalData: randomBatches(1, 2, 12, 64, 4),
      args: { maxSteps: 4, evalSteps: 2, lrScheduler: 'linear', warmup: 1 },
      callbacks: [progressReporter({ stream: lines }), progressReporter({ stream: tty }), jsonlLogger(log), curvesWriter(dir)],
    });
    model.dispose();
    const plain = lines.text().split('\n');
    expect(plain.filter((l) => /^step \d\/4 {2}loss \d+\.\d{4} {2}lr .* tok\/s {2}ETA /.test(l))).toHaveLength(4);
    expect(plain.some((l) => l.startsWith('eval @ step 2: eval_loss'))).toBe(true);
    expect(tty.text()).toContain('\r\x1b[2K[');
    expect(tty.text()).toContain('step 4/4');
    const records = (await readFile(log, 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; step?: number; loss?: number });
    expect(records.map((r) => r.type)).toEqual(['begin', 'step', 'step', 'eval', 'step', 'step', 'eval', 'end']);
    expect(records.filter((r) => r.type === 'step').every((r) => typeof r.loss === 'number')).toBe(true);
    const lossSvg = await readFile(join(dir, 'loss.svg'), 'utf8');
    expect(lossSvg).toMatch(/^<svg /);
    expect(lossSvg).toContain('eval loss');
    expect((await readFile(join(dir, 'lr.svg'), 'utf8')).match(/<path /g)).toHaveLength(1);
  });

  it('formats durations and draws charts with non-finite points left out', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(185)).toBe('3m05s');
    expect(formatDuration(3720)).toBe('1h02m');
    const svg = lineChartSvg(
      [
        {
          name: 'x',
          color: 'red',
          points: [
            [1, 1],
            [2, Number.NaN],
            [3, 2],
          ],
        },
      ],
      { title: 'T <1>', xLabel: 'a', yLabel: 'b' },
    );
    expect(svg).toContain('T &lt;1&gt;');
    expect((svg.match(/<path d="M[^"]*"/)?.[0].match(/[ML]/g) ?? []).length).toBe(2);
  });

  it('marks the points of sparse series (a single eval point shows) and keeps long legend names on the canvas', () => {
    const losses = Array.from({ length: 40 }, (_, i) => [i + 1, 4 - i / 20] as const);
    const name = 'accuracy (flexible, strict)';
    const svg = lineChartSvg(
      [
        { name: 'train loss', color: 'blue', points: losses },
        { name, color: 'red', points: [[40, 2.5]] },
      ],
      { title: 'Loss', xLabel: 'step', yLabel: 'loss' },
    );
    expect(svg.match(/<path /g)).toHaveLength(1);
    // 40 training points: a line, no markers; the one eval point: a marker.
    expect(svg.match(/<circle [^>]*fill="red"/g)).toHaveLength(1);
    expect(svg.match(/<circle [^>]*fill="blue"/g)).toBeNull();
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)?.[1]);
    const x = Number(new RegExp(`<text x="([\\d.]+)"[^>]*>${name.replace(/[()]/g, '\\$&')}</text>`).exec(svg)?.[1]);
    expect(x + name.length * 11 * 0.62).toBeLessThanOrEqual(width);
    // The legend sits above the plot area: below its last row starts the y axis.
    const axisTop = Number(/<line x1="64" x2="64" y1="([\d.]+)"/.exec(svg)?.[1]);
    const legendRows = [...svg.matchAll(/<text x="[\d.]+" y="([\d.]+)">[^<]*<\/text>/g)]
      .filter((m) => m[0].includes('loss') || m[0].includes('accuracy'))
      .map((m) => Number(m[1]));
    expect(legendRows).toHaveLength(2);
    for (const y of legendRows) expect(y).toBeLessThan(axisTop);
  });

  it('draws integer ticks for integer x values and honours a fixed y range', () => {
    const svg = lineChartSvg(
      [
        {
          name: 'acc',
          color: 'blue',
          points: [
            [0, 0.35],
            [1, 0.4],
            [2, 0.4],
          ],
        },
      ],
      { title: 'Accuracy per epoch', xLabel: 'epoch', yLabel: 'acc', yMin: 0, yMax: 1 },
    );
    const xTicks = [...svg.matchAll(/<text x="[\d.]+" y="[\d.]+" text-anchor="middle">([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(xTicks).toEqual(['0', '1', '2', 'epoch']); // the ticks, then the axis title
    const yTicks = [...svg.matchAll(/<text x="58" y="[\d.]+" text-anchor="end">([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(yTicks).toEqual(['0', '0.2', '0.4', '0.6', '0.8', '1']);
  });
});
