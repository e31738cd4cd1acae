// Repeated A/B runs (`pnpm bench --repeat N`): each workload script runs @lora then the reference
// in one process, so N runs of it alternate A/B/A/B; these helpers turn the N per-run rows into one
// row of medians with the spread of the ratio, so a claim never rests on one noisy run.
// Only plain arithmetic here (no tfjs, no node:), so it is testable alone.

/** Median of a non-empty list of numbers. */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Median, min, max and relative spread ((max − min) ÷ median) of the finite numbers in `values`
 * (null, undefined, NaN dropped); null when none is left.
 */
export function summarize(values) {
  const xs = values.filter((x) => typeof x === 'number' && Number.isFinite(x));
  if (xs.length === 0) return null;
  const mid = median(xs);
  const min = Math.min(...xs);
  const max = Math.max(...xs);
  return { n: xs.length, median: mid, min, max, relativeSpread: mid === 0 ? null : (max - min) / mid };
}

// Numeric row fields that become the median over runs; the others are taken from the first run.
const MEDIAN_FIELDS = ['ours', 'reference', 'referenceAllCores', 'ratio', 'ratioAllCores', 'cpuTimeRatio', 'mfu'];

/**
 * Combines the rows of N runs (`runs[i]` = the rows of run i, each with a `workload` key) into one
 * row per workload, in first-seen order: the median of each numeric field, `ratioSummary`
 * (`summarize` of the per-run ratios) and `runs` (`{ ours, reference, ratio }` of each run that
 * had the workload). The ratio is the median of the per-run ratios, each from one A/B pair — not the
 * ratio of the medians.
 */
export function aggregateRuns(runs) {
  const byWorkload = new Map();
  for (const rows of runs) {
    for (const row of rows) {
      const list = byWorkload.get(row.workload) ?? [];
      list.push(row);
      byWorkload.set(row.workload, list);
    }
  }
  return [...byWorkload.values()].map((list) => {
    const out = { ...list[0] };
    for (const field of MEDIAN_FIELDS) {
      const s = summarize(list.map((r) => r[field]));
      out[field] = s === null ? (list[0][field] ?? null) : s.median;
    }
    out.ratioSummary = summarize(list.map((r) => r.ratio));
    out.runs = list.map((r) => ({ ours: r.ours ?? null, reference: r.reference ?? null, ratio: r.ratio ?? null }));
    return out;
  });
}

const num = (x, digits) => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : 'n/a');

/** Digits for a unit: 3 for B/param, 2 for questions/s, 1 otherwise. */
export function unitDigits(unit) {
  return unit === 'B/param' ? 3 : unit === 'questions/s' || unit === 'GiB' ? 2 : 1;
}

/** `W2 llama-d512 LoRA SFT run 2/3: @lora=1374.3 reference=971.8 tok/s ratio=1.41` */
export function runLine(row, index, total) {
  const d = unitDigits(row.unit);
  return `${row.workload} run ${index + 1}/${total}: @lora=${num(row.ours, d)} reference=${num(row.reference, d)} ${row.unit} ratio=${num(row.ratio, 2)}`;
}

/**
 * `W2 llama-d512 LoRA SFT: ratio=1.41 (median of 3 A/B runs, min 1.32, max 1.55, spread 16%) @lora=1374.3 reference=971.8 tok/s`
 * for an aggregated row; with one run it says so (`1 run, no spread`).
 */
export function ratioLine(row) {
  const d = unitDigits(row.unit);
  const s = row.ratioSummary;
  const spread =
    s === null || s === undefined
      ? 'no ratio'
      : s.n === 1
        ? '1 run, no spread: use --repeat 3 or more before quoting it'
        : `median of ${s.n} A/B runs, min ${num(s.min, 2)}, max ${num(s.max, 2)}, spread ${num(100 * (s.relativeSpread ?? Number.NaN), 0)}%`;
  return `${row.workload}: ratio=${num(row.ratio, 2)} (${spread}) @lora=${num(row.ours, d)} reference=${num(row.reference, d)} ${row.unit}`;
}
