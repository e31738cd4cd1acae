import { progressLine } from '@lora/core/internal';
import type { StepReport, TrainCallbacks } from '../callbacks.js';

/** `1h02m`, `3m05s`, `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

/** One progress line: step, loss, lr, tokens/s and ETA. */
export function formatStep(report: StepReport, etaSeconds: number): string {
  const loss = report.skipped ? 'skipped' : report.loss.toFixed(4);
  return `step ${report.step}/${report.maxSteps}  loss ${loss}  lr ${report.lr.toExponential(2)}  grad ${report.gradNorm.toFixed(3)}  ${Math.round(report.tokensPerSecond)} tok/s  ETA ${formatDuration(etaSeconds)}`;
}

/**
 * Progress as a callback: a redrawn bar on a TTY, plain lines otherwise (logs, CI), drawn by
 * `progressLine` of `@lora/core`. The ETA uses the mean step time of this process.
 */
export function progressReporter(
  options: {
    /** Where to write; default `process.stderr`. */
    stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
    /** Bar on a TTY, plain lines otherwise (`auto`, default), or force one. */
    mode?: 'auto' | 'bar' | 'lines';
    /** Print a plain line every N steps (lines mode); default 1. */
    every?: number;
  } = {},
): TrainCallbacks {
  const stream = options.stream ?? process.stderr;
  const progress = progressLine({ stream, ...(options.mode === undefined ? {} : { mode: options.mode }) });
  const bar = progress.bar;
  const every = options.every ?? 1;
  let firstStep = 0;
  return {
    onTrainBegin: (info) => {
      firstStep = info.startStep;
      stream.write(
        `${info.resumedFrom === undefined ? 'training' : `resuming from ${info.resumedFrom} at step ${info.startStep}`}: ${info.maxSteps} steps\n`,
      );
    },
    onStepEnd: (report) => {
      const done = report.step - firstStep;
      const eta = (report.elapsedSeconds / Math.max(done, 1)) * (report.maxSteps - report.step);
      // Lines mode keeps its step-number cadence (step % every), so `every` is applied here.
      if (bar || report.step % every === 0 || report.step === report.maxSteps) {
        progress.update(report.step, report.maxSteps, formatStep(report, eta));
      }
    },
    onEvaluate: (report) => {
      const metrics = Object.entries(report.metrics)
        .map(([k, v]) => `${k} ${v.toFixed(4)}`)
        .join('  ');
      stream.write(`${bar ? '\n' : ''}eval @ step ${report.step}: ${metrics}\n`);
    },
    onCheckpoint: (report) => {
      if (!bar) stream.write(`saved ${report.path}\n`);
    },
    onTrainEnd: (result) => {
      if (bar) stream.write('\n');
      stream.write(
        `done: ${result.step} steps (${result.stopReason})${result.lastCheckpoint === undefined ? '' : `, last checkpoint ${result.lastCheckpoint}`}\n`,
      );
    },
  };
}
