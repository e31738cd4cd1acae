// Guards of an output folder: a lock against two trainings writing into it at once, a refusal to
// write over a finished run unless asked, and the cleanup of what a killed run left behind.
import { nodeBuiltin } from '@lora/core/internal';
import { RunFolderError } from '../errors/run-folder-error.js';

/** Name of the lock file a training holds in its output folder. */
export const LOCK_FILE = '.lora-train.lock';

// Node only; loaded on first use so that modules importing this one also bundle for browsers.
const FEATURE = 'a training output folder (`outputDir`)';
const fsp = () => nodeBuiltin('fs/promises', FEATURE);
const path = () => nodeBuiltin('path', FEATURE);

interface LockContent {
  pid: number;
  hostname: string;
  started: string;
}

function parseLock(text: string): LockContent | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockContent>;
    return typeof value.pid === 'number' && typeof value.hostname === 'string'
      ? { pid: value.pid, hostname: value.hostname, started: String(value.started) }
      : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `dir/.lora-train.lock` (created with O_EXCL; holds pid, hostname and start time) and
 * returns its release. A lock whose pid is dead on this host is stale and taken over; a live one,
 * or one from another host, makes it throw {@link RunFolderError} (`locked`) naming the holder.
 * The lock is also removed if the process exits without releasing it (`process.exit`).
 */
export async function acquireRunLock(dir: string): Promise<() => Promise<void>> {
  const { readFileSync, unlinkSync } = await nodeBuiltin('fs', FEATURE);
  const { mkdir, open, readFile, unlink } = await fsp();
  const { hostname } = await nodeBuiltin('os', FEATURE);
  const { join } = await path();
  await mkdir(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const me: LockContent = { pid: process.pid, hostname: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(file, 'wx');
      try {
        await handle.writeFile(`${JSON.stringify(me)}\n`);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const text = await readFile(file, 'utf8').catch(() => undefined);
      if (text === undefined && attempt < 3) continue; // released meanwhile
      const holder = parseLock(text ?? '');
      // An empty or torn lock file: its writer died between create and write (or is writing now).
      if (holder === undefined && attempt === 0) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      const stale = holder === undefined || (holder.hostname === me.hostname && holder.pid !== process.pid && !isAlive(holder.pid));
      if (!stale || attempt >= 3)
        throw new RunFolderError({ dir, reason: 'locked', holder: holder ?? { pid: -1, hostname: 'unknown' }, lockFile: file });
      await unlink(file).catch(() => undefined);
    }
  }
  const onExit = (): void => {
    try {
      if (parseLock(readFileSync(file, 'utf8'))?.pid === process.pid) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.on('exit', onExit);
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    process.off('exit', onExit);
    const holder = parseLock((await readFile(file, 'utf8').catch(() => '')) ?? '');
    if (holder?.pid === process.pid) await unlink(file).catch(() => undefined);
  };
}

/** Entries of `dir` whose name `isRunFile` accepts, sorted; none when `dir` does not exist. */
export async function findRunFiles(dir: string, isRunFile: (name: string) => boolean): Promise<string[]> {
  const { readdir } = await fsp();
  const entries = await readdir(dir).catch(() => [] as string[]);
  return entries.filter(isRunFile).sort();
}

/**
 * Refuses (throws {@link RunFolderError} `has-run`) when `dir` holds run files, unless `overwrite`,
 * which deletes them (and `alsoDelete`, derived outputs) first. Other files are left alone.
 */
export async function claimRunFolder(
  dir: string,
  options: { isRunFile: (name: string) => boolean; overwrite: boolean; alsoDelete?: readonly string[] },
): Promise<void> {
  const files = await findRunFiles(dir, options.isRunFile);
  const { rm } = await fsp();
  const { join } = await path();
  if (files.length === 0) return;
  if (!options.overwrite) throw new RunFolderError({ dir, reason: 'has-run', files });
  for (const name of [...files, ...(options.alsoDelete ?? [])]) await rm(join(dir, name), { recursive: true, force: true });
}

/** Removes what a killed checkpoint write leaves behind (`.tmp-checkpoint-*`, `.latest.*.tmp`). */
export async function removeTemporaries(dir: string): Promise<string[]> {
  const { rm } = await fsp();
  const { join } = await path();
  const names = await findRunFiles(dir, (name) => name.startsWith('.tmp-checkpoint-') || /^\.latest\..*\.tmp$/.test(name));
  for (const name of names) await rm(join(dir, name), { recursive: true, force: true });
  return names;
}
