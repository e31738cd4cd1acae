import { InvalidArgumentError } from '@lora/core';
import type { ConnectionOptions, Worker } from 'bullmq';

/**
 * BullMQ connection options for a `redis://[user:password@]host:port[/db]` URL (`rediss://` for
 * TLS). A bad URL is an {@link InvalidArgumentError} naming `--queue`.
 */
export function redisConnection(url: string): ConnectionOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidArgumentError({ argument: '--queue', message: `"${url}" is not a URL; use redis://host:port.` });
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    throw new InvalidArgumentError({ argument: '--queue', message: `"${url}" is not a redis:// URL; use redis://host:port.` });
  const port = parsed.port === '' ? 6379 : Number(parsed.port);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0)
    throw new InvalidArgumentError({ argument: '--queue', message: `"${url}": the database number must be an integer ≥ 0.` });
  return {
    host: parsed.hostname,
    port,
    db,
    ...(parsed.username === '' ? {} : { username: decodeURIComponent(parsed.username) }),
    ...(parsed.password === '' ? {} : { password: decodeURIComponent(parsed.password) }),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    // BullMQ workers block on Redis; they must not give up on a slow command.
    maxRetriesPerRequest: null,
  };
}

/**
 * Keeps a BullMQ worker running until `signal` aborts, then closes it (the job it holds is
 * finished first). Redis errors (a dropped connection) are passed to `onError`; ioredis reconnects
 * and the worker keeps going.
 */
export async function runUntilAborted(worker: Worker, options: { signal?: AbortSignal; onError?: (error: Error) => void }): Promise<void> {
  try {
    worker.on('error', (error) => options.onError?.(error));
    await new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await worker.close();
  }
}
