import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainCallbacks } from '../callbacks.js';
import { lineChartSvg } from './plot.js';

/**
 * Writes `loss.svg` (training loss per step, and `eval_loss` when given) and `lr.svg` into `dir`.
 * Steps are 1-based.
 */
export async function writeCurves(
  dir: string,
  history: {
    readonly losses: readonly number[];
    readonly lrs: readonly number[];
    readonly evals?: readonly { step: number; metrics: Readonly<Record<string, number>> }[];
  },
): Promise<{ readonly loss: string; readonly lr: string }> {
  await mkdir(dir, { recursive: true });
  const loss = join(dir, 'loss.svg');
  const lr = join(dir, 'lr.svg');
  const evalPoints = (history.evals ?? [])
    .filter((e) => e.metrics.eval_loss !== undefined)
    .map((e) => [e.step, e.metrics.eval_loss as number] as const);
  const series = [{ name: 'train loss', color: '#1f77b4', points: history.losses.map((y, i) => [i + 1, y] as const) }];
  if (evalPoints.length > 0) series.push({ name: 'eval loss', color: '#d62728', points: evalPoints });
  await writeFile(loss, lineChartSvg(series, { title: 'Loss', xLabel: 'step', yLabel: 'loss per token' }));
  await writeFile(
    lr,
    lineChartSvg([{ name: 'learning rate', color: '#2ca02c', points: history.lrs.map((y, i) => [i + 1, y] as const) }], {
      title: 'Learning rate',
      xLabel: 'step',
      yLabel: 'lr',
    }),
  );
  return { loss, lr };
}

/** A callback that writes the loss and lr curves of the whole run (resumed history included) to `dir` at the end. */
export function curvesWriter(dir: string): TrainCallbacks {
  return {
    onTrainEnd: async (result) => {
      await writeCurves(dir, result);
    },
  };
}
