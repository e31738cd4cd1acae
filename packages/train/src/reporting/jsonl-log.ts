import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TrainCallbacks } from '../callbacks.js';

/** Step a log record belongs to (`step`, or `startStep` of a `begin`); undefined if none. */
function recordStep(line: string): number | undefined {
  try {
    const record = JSON.parse(line) as { step?: unknown; startStep?: unknown };
    const step = record.step ?? record.startStep;
    return typeof step === 'number' ? step : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Keeps only the records of `path` up to `step` (and lines without a step), replacing the file
 * atomically (temporary file + rename). A torn last line, left by a kill mid-write, is dropped.
 */
export function truncateLogAfter(path: string, step: number): void {
  if (!existsSync(path)) return;
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const kept = lines.filter((line) => {
    const s = recordStep(line);
    if (s === undefined) {
      try {
        JSON.parse(line);
        return true;
      } catch {
        return false;
      }
    }
    return s <= step;
  });
  if (kept.length === lines.length) return;
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, kept.map((l) => `${l}\n`).join(''));
  renameSync(temporary, path);
}

/**
 * Appends one JSON object per event to `path` (`{"type":"step",…}`, `eval`, `checkpoint`,
 * `end`), flushed line by line so a crashed run keeps its log. When the run resumes from a
 * checkpoint, the records after that checkpoint's step (steps that are trained again) are removed
 * first, so the log never holds a step twice.
 */
export function jsonlLogger(path: string): TrainCallbacks {
  mkdirSync(dirname(path), { recursive: true });
  const write = (record: Record<string, unknown>): void => {
    appendFileSync(path, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
  return {
    onTrainBegin: (info) => {
      if (info.resumedFrom !== undefined) truncateLogAfter(path, info.startStep);
      write({ type: 'begin', ...info });
    },
    onStepEnd: (report) => write({ type: 'step', ...report }),
    onEvaluate: (report) => write({ type: 'eval', step: report.step, ...report.metrics }),
    onCheckpoint: (report) => write({ type: 'checkpoint', ...report }),
    onTrainEnd: (result) =>
      write({ type: 'end', step: result.step, stopReason: result.stopReason, lastCheckpoint: result.lastCheckpoint, best: result.best }),
  };
}
