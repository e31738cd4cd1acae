import { formatDuration } from '@lora/train/internal';

/**
 * One evaluation progress line, as `lora eval` and {@link compareAdapter}'s pipelines print it:
 * `[lora] base: 32/48 answers (16 resumed) · 12s · ETA 6s`. The ETA comes from the examples
 * generated in this process (resumed ones cost nothing).
 */
export function evalProgressText(
  variant: string,
  p: { done: number; total: number; resumed: number; elapsedMs: number },
  label = '[lora]',
): string {
  const generated = p.done - p.resumed;
  const eta = generated > 0 ? ((p.elapsedMs / 1000) * (p.total - p.done)) / generated : Number.NaN;
  const resumed = p.resumed > 0 ? ` (${p.resumed} resumed)` : '';
  const tail = p.done >= p.total ? '' : ` · ETA ${formatDuration(eta)}`;
  return `${label} ${variant}: ${p.done}/${p.total} answers${resumed} · ${formatDuration(p.elapsedMs / 1000)}${tail}`;
}
