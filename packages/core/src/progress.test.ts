import { describe, expect, it } from 'vitest';
import { progressLine } from './progress.js';

const capture = (isTTY: boolean) => {
  const stream = { text: '', isTTY, columns: 80, write: (t: string) => void (stream.text += t) };
  return stream;
};

describe('progressLine', () => {
  it('redraws a bar on a TTY and ends it with a newline', () => {
    const tty = capture(true);
    const progress = progressLine({ stream: tty });
    expect(progress.bar).toBe(true);
    progress.update(1, 2, 'half');
    progress.update(2, 2, 'done');
    const clear = '\r\x1b[2K';
    expect(tty.text).toBe(`${clear}[${'#'.repeat(15)}${'.'.repeat(15)}] half${clear}[${'#'.repeat(30)}] done\n`);
  });

  it('writes one line per update off a TTY, every N-th and the last', () => {
    const log = capture(false);
    const progress = progressLine({ stream: log, every: 2 });
    for (let i = 1; i <= 5; i++) progress.update(i, 5, `item ${i}/5`);
    expect(log.text).toBe('item 2/5\nitem 4/5\nitem 5/5\n');
    expect(log.text).not.toContain('\r');
  });
});
