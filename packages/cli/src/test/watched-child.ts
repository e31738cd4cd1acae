// Test helper: a spawned `lora` child process whose stderr the test can wait on.
import type { ChildProcess } from 'node:child_process';

/** A running child: its stderr so far, a wait for a line on it, and its exit. */
export interface WatchedChild {
  child: ChildProcess;
  stderr: () => string;
  /** Resolves once `pattern` appears on stderr; rejects if the child exits first. */
  waitFor: (pattern: RegExp) => Promise<void>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Collects a spawned child's stderr (stdout is drained) and lets a test wait for patterns on it. */
export function watchChild(child: ChildProcess): WatchedChild {
  let stderr = '';
  const waiters: { pattern: RegExp; resolve: () => void }[] = [];
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    for (const w of [...waiters]) {
      if (w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  child.stdout?.resume();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    stderr: () => stderr,
    waitFor: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        waiters.push({ pattern, resolve });
        void exit.then(() => reject(new Error(`exited before ${pattern}:\n${stderr}`)));
      }),
    exit,
  };
}
