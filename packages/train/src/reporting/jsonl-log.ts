import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TrainCallbacks } from '../callbacks.js';

/**
 * Appends one JSON object per event to `path` (`{"type":"step",…}`, `eval`, `checkpoint`,
 * `end`), flushed line by line so a crashed run keeps its log.
 */
export function jsonlLogger(path: string): TrainCallbacks {
  mkdirSync(dirname(path), { recursive: true });
  const write = (record: Record<string, unknown>): void => {
    appendFileSync(path, `${JSON.stringify({ time: new Date().toISOString(), ...record })}\n`);
  };
  return {
    onTrainBegin: (info) => write({ type: 'begin', ...info }),
    onStepEnd: (report) => write({ type: 'step', ...report }),
    onEvaluate: (report) => write({ type: 'eval', step: report.step, ...report.metrics }),
    onCheckpoint: (report) => write({ type: 'checkpoint', ...report }),
    onTrainEnd: (result) => write({ type: 'end', step: result.step, stopReason: result.stopReason, lastCheckpoint: result.lastCheckpoint, best: result.best }),
  };
}
