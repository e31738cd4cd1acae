import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, symlink, copyFile, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { LoraError } from '../errors/lora-error.js';
import { validate } from '../schema.js';
import { repoFolderName, type AssetKind } from './hf-cache.js';

/** A step of a Hub download, for progress output. */
export interface DownloadProgress {
  /** Repo-relative file name. */
  file: string;
  /** 1-based index of the file and the number of files. */
  index: number;
  count: number;
  /** Bytes written so far for this file, and its size if known. */
  bytes: number;
  total: number | undefined;
  /** A one-line human-readable description. */
  message: string;
}

/** Settings of {@link downloadSnapshot}. */
export interface HubDownloadOptions {
  repoId: string;
  kind: AssetKind;
  revision: string;
  /** Hub base URL without trailing slash. */
  endpoint: string;
  token: string | undefined;
  cacheDir: string;
  fetch: typeof globalThis.fetch;
  /** Keep only files for which this returns true (default: all). */
  include?: (file: string) => boolean;
  onProgress?: (progress: DownloadProgress) => void;
}

/** The Hub answered with an HTTP error for the repo metadata (not found, unauthorised). */
export class HubHttpError extends LoraError {
  constructor(
    readonly url: string,
    readonly status: number,
    statusText: string,
  ) {
    super(`${url}: HTTP ${status} ${statusText}`);
    this.name = 'HubHttpError';
  }
}

const RepoInfoSchema = z.object({
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  siblings: z.array(z.object({ rfilename: z.string().min(1) })),
});

function headers(token: string | undefined): Record<string, string> {
  return token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` };
}

function safeRelativePath(file: string): boolean {
  return !file.startsWith('/') && !file.split('/').some((part) => part === '..' || part === '');
}

/** Strips `W/` and quotes from an ETag, as huggingface_hub does. */
function normalizeEtag(etag: string | null): string | undefined {
  if (etag === null) return undefined;
  const value = etag.replace(/^W\//, '').replace(/^"|"$/g, '');
  return /^[\w.-]+$/.test(value) ? value : undefined;
}

/** Removes `dir` and its now-empty parents up to (not including) `stop`. */
async function removeEmptyDirs(dir: string, stop: string): Promise<void> {
  let current = dir;
  while (current.startsWith(stop) && current !== stop) {
    if (!existsSync(current) || (await readdir(current)).length > 0) return;
    await rmdir(current);
    current = dirname(current);
  }
}

/**
 * Downloads every file of a Hub repo revision into the huggingface_hub cache layout:
 * `blobs/<etag>` (written to `<etag>.incomplete` then renamed), `snapshots/<commit>/<file>` as
 * relative symlinks to the blobs (plain copies where symlinks are not allowed), and
 * `refs/<revision>` holding the commit. The snapshot and ref appear only after every file is
 * complete; on failure every file this call created is removed. Returns the snapshot directory.
 */
export async function downloadSnapshot(options: HubDownloadOptions): Promise<string> {
  const { repoId, kind, revision, endpoint, token, cacheDir, fetch } = options;
  const typePrefix = kind === 'dataset' ? 'datasets/' : '';
  const apiUrl = `${endpoint}/api/${kind}s/${repoId}/revision/${encodeURIComponent(revision)}`;
  const response = await fetch(apiUrl, { headers: headers(token), signal: AbortSignal.timeout(30_000) });
  if (!response.ok) throw new HubHttpError(apiUrl, response.status, response.statusText);
  const info = validate(await response.json(), RepoInfoSchema, { file: apiUrl });
  const files = info.siblings.map((s) => s.rfilename).filter((f) => options.include?.(f) ?? true);
  for (const file of files) {
    if (!safeRelativePath(file)) throw new LoraError(`${apiUrl}: refusing unsafe file name "${file}" in \`siblings\`.`);
  }

  const repoDir = join(cacheDir, repoFolderName(repoId, kind));
  const blobsDir = join(repoDir, 'blobs');
  const created: string[] = [];
  const blobs = new Map<string, string>();
  try {
    await mkdir(blobsDir, { recursive: true });
    for (const [i, file] of files.entries()) {
      const blob = await downloadBlob({
        ...options,
        file,
        index: i + 1,
        count: files.length,
        blobsDir,
        created,
        typePrefix,
        commit: info.sha,
      });
      blobs.set(file, blob);
    }
    // Every blob is complete: publish the snapshot (staged, then renamed) and the ref.
    const snapshot = join(repoDir, 'snapshots', info.sha);
    const staging = `${snapshot}.incomplete-${process.pid}`;
    created.push(staging);
    for (const [file, blob] of blobs) {
      const link = join(staging, file);
      await mkdir(dirname(link), { recursive: true });
      try {
        await symlink(relative(dirname(join(snapshot, file)), blob), link);
      } catch {
        await copyFile(blob, link);
      }
    }
    if (existsSync(snapshot)) await rm(snapshot, { recursive: true, force: true });
    await mkdir(dirname(snapshot), { recursive: true });
    await rename(staging, snapshot);
    created.pop();
    if (revision !== info.sha) {
      const ref = join(repoDir, 'refs', revision);
      await mkdir(dirname(ref), { recursive: true });
      await writeFile(`${ref}.incomplete`, info.sha);
      await rename(`${ref}.incomplete`, ref);
    }
    return snapshot;
  } catch (error) {
    for (const path of created.reverse()) await rm(path, { recursive: true, force: true });
    await removeEmptyDirs(blobsDir, cacheDir);
    await removeEmptyDirs(join(repoDir, 'snapshots'), cacheDir);
    throw error;
  }
}

async function downloadBlob(
  o: HubDownloadOptions & {
    file: string;
    index: number;
    count: number;
    blobsDir: string;
    created: string[];
    typePrefix: string;
    commit: string;
  },
): Promise<string> {
  const path = o.file.split('/').map(encodeURIComponent).join('/');
  const url = `${o.endpoint}/${o.typePrefix}${o.repoId}/resolve/${o.commit}/${path}`;
  // Large (LFS) files redirect to a CDN; the blob name is the X-Linked-Etag of the redirect.
  let response = await o.fetch(url, { headers: headers(o.token), redirect: 'manual' });
  let etag = normalizeEtag(response.headers.get('x-linked-etag'));
  let total = Number(response.headers.get('x-linked-size') ?? NaN);
  if (response.status >= 300 && response.status < 400) {
    const location = response.headers.get('location');
    if (location === null) throw new LoraError(`${url}: HTTP ${response.status} without a Location header.`);
    await response.body?.cancel();
    const target = new URL(location, url);
    const sameOrigin = target.origin === new URL(url).origin;
    response = await o.fetch(target, { headers: sameOrigin ? headers(o.token) : {} });
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new LoraError(`Download of ${o.repoId}/${o.file} failed: ${url}: HTTP ${response.status} ${response.statusText}.`);
  }
  etag ??= normalizeEtag(response.headers.get('etag'));
  if (!Number.isFinite(total)) total = Number(response.headers.get('content-length') ?? NaN);
  const totalBytes = Number.isFinite(total) ? total : undefined;
  if (etag !== undefined && existsSync(join(o.blobsDir, etag))) {
    await response.body.cancel();
    return join(o.blobsDir, etag);
  }

  const incomplete = join(o.blobsDir, `${etag ?? `download-${process.pid}-${o.index}`}.incomplete`);
  o.created.push(incomplete);
  const hash = createHash('sha256');
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  await pipeline(Readable.fromWeb(response.body as WebReadableStream), counter, createWriteStream(incomplete));
  if (totalBytes !== undefined && bytes !== totalBytes) {
    throw new LoraError(`Download of ${o.repoId}/${o.file} is truncated: ${bytes} of ${totalBytes} bytes.`);
  }
  const blob = join(o.blobsDir, etag ?? hash.digest('hex'));
  await rename(incomplete, blob);
  o.created.pop();
  o.created.push(blob);
  o.onProgress?.({
    file: o.file,
    index: o.index,
    count: o.count,
    bytes,
    total: totalBytes,
    message: `[lora] downloaded ${o.repoId}/${o.file} (${bytes} bytes) [${o.index}/${o.count}]`,
  });
  return blob;
}
