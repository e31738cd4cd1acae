import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import type { JudgeCompletion } from '../model.js';

/** One cached answer as stored on disk. */
export interface CacheEntry {
  /** Format version of the entry (1). */
  version: 1;
  /** Provider that answered. */
  provider: string;
  /** Model that answered. */
  model: string;
  /** The answer and its token usage. */
  completion: { text: string; usage: { inputTokens: number; outputTokens: number } };
}

const EntrySchema = z.object({
  version: z.literal(1),
  provider: z.string(),
  model: z.string(),
  completion: z.object({
    text: z.string(),
    usage: z.object({ inputTokens: z.number(), outputTokens: z.number() }),
  }),
}) satisfies z.ZodType<CacheEntry>;

/**
 * The judge answer cache shared by every run of this user: `LORA_JUDGE_CACHE_DIR`, else
 * `$XDG_CACHE_HOME/lora/judge`, else `~/.cache/lora/judge`. Entries are keyed by provider, model
 * (and endpoint) and the full request, so any run asking the same pays once.
 *
 * @example
 * ```ts
 * new JudgeClient(model, { cacheDir: defaultJudgeCacheDir() });
 * ```
 */
export function defaultJudgeCacheDir(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const explicit = env.LORA_JUDGE_CACHE_DIR;
  if (explicit !== undefined && explicit !== '') return explicit;
  const xdg = env.XDG_CACHE_HOME;
  return join(
    xdg !== undefined && xdg !== '' ? xdg : join(env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir(), '.cache'),
    'lora',
    'judge',
  );
}

/** sha256 (hex) of provider, model and the full request, as a cache key. */
export function cacheKey(provider: string, model: string, request: unknown): string {
  return createHash('sha256').update(JSON.stringify({ provider, model, request })).digest('hex');
}

/**
 * A persistent cache of judge answers: one JSON file per key under `dir/<first two hex>/<key>.json`,
 * written atomically (temporary file, then rename), so concurrent runs and crashes never leave a
 * half-written entry. An unreadable or malformed entry counts as a miss and is overwritten.
 */
export class DiskCache {
  /** Root directory of the cache. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private path(key: string): string {
    return join(this.dir, key.slice(0, 2), `${key}.json`);
  }

  /** Returns the stored completion for `key`, or `undefined`. */
  async get(key: string): Promise<JudgeCompletion | undefined> {
    let text: string;
    try {
      text = await readFile(this.path(key), 'utf8');
    } catch {
      return undefined;
    }
    try {
      const parsed = EntrySchema.safeParse(JSON.parse(text));
      return parsed.success ? parsed.data.completion : undefined;
    } catch {
      return undefined;
    }
  }

  /** Stores `completion` under `key` atomically. */
  async set(key: string, entry: { provider: string; model: string; completion: JudgeCompletion }): Promise<void> {
    const file = this.path(key);
    await mkdir(join(this.dir, key.slice(0, 2)), { recursive: true });
    const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
    const value: CacheEntry = { version: 1, provider: entry.provider, model: entry.model, completion: entry.completion };
    await writeFile(tmp, `${JSON.stringify(value)}\n`, 'utf8');
    await rename(tmp, file);
  }
}
