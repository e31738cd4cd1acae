import { InvalidArgumentError } from '@lora/core';

/** Result of `expectedCalibrationError`. */
export interface CalibrationReport {
  /** Σ_b |B_b|/n · |acc(B_b) − conf(B_b)|. */
  ece: number;
  /** Largest |acc − conf| over non-empty bins. */
  mce: number;
  /** The bins of a reliability diagram. */
  bins: Array<{
    /** Bin bounds: `(lower, upper]`, the first bin also holding exactly 0. */
    lower: number;
    upper: number;
    count: number;
    /** Mean confidence in the bin (NaN when empty). */
    confidence: number;
    /** Fraction correct in the bin (NaN when empty). */
    accuracy: number;
  }>;
  count: number;
}

/**
 * Expected calibration error with `numBins` equal-width bins over [0, 1]. A confidence `c` goes to
 * the number of interior edges `i/M` (computed as `i · (1/M)`, as `np.linspace`) strictly below
 * it: bins are `(lower, upper]` and 0 goes to the first — exactly scikit-learn's
 * `calibration_curve(strategy='uniform')` binning (`np.searchsorted(bins[1:-1], p)`).
 *
 * @example
 * ```ts
 * expectedCalibrationError([0.9, 0.6], [true, false], 10).ece; // (|1-0.9| + |0-0.6|) / 2
 * ```
 */
export function expectedCalibrationError(confidences: readonly number[], correct: readonly boolean[], numBins = 10): CalibrationReport {
  if (confidences.length !== correct.length) {
    throw new InvalidArgumentError({
      argument: 'correct',
      message: `has ${correct.length} entries but confidences has ${confidences.length}.`,
    });
  }
  if (!Number.isInteger(numBins) || numBins < 1)
    throw new InvalidArgumentError({ argument: 'numBins', message: `must be a positive integer, got ${numBins}.` });
  const step = 1 / numBins;
  const sums = Array.from({ length: numBins }, () => ({ n: 0, conf: 0, acc: 0 }));
  confidences.forEach((c, i) => {
    if (!(c >= 0 && c <= 1)) throw new InvalidArgumentError({ argument: `confidences[${i}]`, message: `must lie in [0, 1], got ${c}.` });
    let b = 0;
    while (b < numBins - 1 && (b + 1) * step < c) b++;
    const s = sums[b] as { n: number; conf: number; acc: number };
    s.n++;
    s.conf += c;
    s.acc += correct[i] === true ? 1 : 0;
  });
  const n = confidences.length;
  let ece = 0;
  let mce = 0;
  const bins = sums.map((s, b) => {
    const confidence = s.n === 0 ? Number.NaN : s.conf / s.n;
    const accuracy = s.n === 0 ? Number.NaN : s.acc / s.n;
    if (s.n > 0) {
      const gap = Math.abs(accuracy - confidence);
      ece += (s.n / n) * gap;
      mce = Math.max(mce, gap);
    }
    return { lower: b / numBins, upper: (b + 1) / numBins, count: s.n, confidence, accuracy };
  });
  return { ece, mce, bins, count: n };
}

/** One bin of a reliability diagram. */
export type ReliabilityBin = CalibrationReport['bins'][number];
