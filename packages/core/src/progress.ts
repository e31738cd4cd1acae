/** Where a {@link progressLine} writes: `process.stderr`, or anything with `write` (tests, a CLI's io). */
export interface ProgressStream {
  /** Writes text as is. */
  write(text: string): unknown;
  /** A terminal: redraw a bar in place. Otherwise (a log, CI) write one line per update. */
  isTTY?: boolean;
  /** Terminal width, to fit the bar. */
  columns?: number;
}

/** Options of {@link progressLine}. */
export interface ProgressLineOptions {
  /** Where to write; default `process.stderr`. */
  stream?: ProgressStream;
  /** Bar on a TTY, plain lines otherwise (`auto`, default), or force one. */
  mode?: 'auto' | 'bar' | 'lines';
  /** Lines mode: write every N-th update (and the last); default 1. */
  every?: number;
}

/** A progress display made by {@link progressLine}. */
export interface ProgressLine {
  /** Whether it draws a bar (a TTY) rather than lines. */
  readonly bar: boolean;
  /** Shows `done` of `total` with a text, e.g. `step 3/10  loss 1.23`. */
  update(done: number, total: number, text: string): void;
}

/**
 * The one progress display of `@lora` (training, `lora judge`): on a TTY a bar redrawn in place
 * (`\r`, cleared line), ending with a newline when `done` reaches `total`; elsewhere one plain line
 * per update, so a log keeps every update on its own line.
 *
 * @example
 * ```ts
 * const progress = progressLine();
 * progress.update(3, 10, 'judged 3/10');
 * ```
 */
export function progressLine(options: ProgressLineOptions = {}): ProgressLine {
  const stream = options.stream ?? process.stderr;
  const bar = options.mode === 'bar' || (options.mode !== 'lines' && stream.isTTY === true);
  const every = options.every ?? 1;
  let updates = 0;
  return {
    bar,
    update(done, total, text) {
      updates++;
      if (bar) {
        const width = Math.max(10, Math.min(30, (stream.columns ?? 100) - text.length - 6));
        const filled = total > 0 ? Math.min(width, Math.round((width * done) / total)) : 0;
        stream.write(`\r\x1b[2K[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`);
        if (done >= total) stream.write('\n');
      } else if (updates % every === 0 || done >= total) {
        stream.write(`${text}\n`);
      }
    },
  };
}
