/** How a reader reacts to a record that fails to parse or validate. */
export type ReadMode = 'strict' | 'skip';

/**
 * What a reader did with a file: records read, kept and skipped. In `strict` mode `skipped` is
 * always empty (the first bad record throws); in `skip` mode every left-out record is listed, so
 * `read === kept + skipped.length` always holds.
 */
export interface ReadReport {
  /** File the report is about. */
  readonly file: string;
  /** Records seen (good and bad). */
  read: number;
  /** Records that passed validation and were yielded. */
  kept: number;
  /** Records left out in `skip` mode, in file order, each with the first error that caused it. */
  readonly skipped: Array<{
    /** 1-based line where the record starts (row number for Parquet). */
    readonly line: number;
    /** Path of the first offending field (`messages[1].role`), or `<record>` for a syntax error. */
    readonly field: string;
    /** What was wrong. */
    readonly message: string;
  }>;
  /** Records whose bytes were not valid UTF-8 (read with U+FFFD in place of the bad bytes). */
  invalidUtf8: number;
  /** Lines of the first (up to 10) such records. */
  readonly invalidUtf8Lines: number[];
}

/** Creates an empty {@link ReadReport} for `file`. */
export function emptyReadReport(file: string): ReadReport {
  return { file, read: 0, kept: 0, skipped: [], invalidUtf8: 0, invalidUtf8Lines: [] };
}

/**
 * One-paragraph human summary of a {@link ReadReport}: counts, then the first `maxListed`
 * skipped records as `file:line (field): message`, then the count of invalid-UTF-8 records.
 */
export function formatReadReport(report: ReadReport, maxListed = 10): string {
  const head = `${report.file}: read ${report.read}, kept ${report.kept}, skipped ${report.skipped.length}`;
  const listed = report.skipped.slice(0, maxListed).map((s) => `  ${report.file}:${s.line} (${s.field}): ${s.message}`);
  const more = report.skipped.length > maxListed ? [`  … and ${report.skipped.length - maxListed} more`] : [];
  const utf8 =
    report.invalidUtf8 === 0
      ? []
      : [
          `  ${report.invalidUtf8} record${report.invalidUtf8 === 1 ? '' : 's'} with invalid UTF-8 (bad bytes read as U+FFFD), at line${report.invalidUtf8Lines.length === 1 ? '' : 's'} ${report.invalidUtf8Lines.join(', ')}${
            report.invalidUtf8 > report.invalidUtf8Lines.length ? ', …' : ''
          }`,
        ];
  return [head, ...listed, ...more, ...utf8].join('\n');
}

/** One record a `skip`-mode reader left out, with the first error that caused it. */
export type SkippedRecord = ReadReport['skipped'][number];
