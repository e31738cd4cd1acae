import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { LoraError } from '../errors/lora-error.js';
import { repoFolderName, type AssetKind } from './hf-cache.js';
import type { resolveAsset } from '../assets.js';

/** A step of a Hub download, for progress output (the type `resolveAsset`'s `onProgress` receives). */
export type DownloadProgress = Parameters<NonNullable<Parameters<typeof resolveAsset>[1]['onProgress']>>[0];

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

/** The Hub answered with an HTTP error (not found, unauthorised, server error). */
export class HubHttpError extends LoraError {
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${url}: HTTP ${status}${detail === '' ? '' : ` ${detail}`}`);
    this.name = 'HubHttpError';
  }
}

const COMMIT = /^[0-9a-f]{40}$/;

/** Every file below `dir` (relative paths, symlinks not followed); empty when `dir` is missing. */
async function listTree(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((d) => !d.isDirectory()).map((d) => join(d.parentPath, d.name));
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
 * Runs `body` with `console.debug` sent to stderr: `@huggingface/hub` logs `Downloading <file> to
 * <blob>.incomplete` with it, which Node writes to stdout, where the CLI prints its results.
 */
async function withDebugOnStderr<T>(body: () => Promise<T>): Promise<T> {
  const debug = console.debug;
  console.debug = (...args: unknown[]) => console.error(...args);
  try {
    return await body();
  } finally {
    console.debug = debug;
  }
}

/**
 * Downloads the files of a Hub repo revision into the huggingface_hub cache layout with
 * `@huggingface/hub` (`downloadFileToCacheDir`): `blobs/<etag>` (the sha256 of LFS/Xet files, the git
 * blob id otherwise; written as `<etag>.incomplete`, then renamed), `snapshots/<commit>/<file>` as
 * relative symlinks to the blobs, and `refs/<revision>` holding the commit.
 *
 * On top of `snapshotDownload` it adds what the resolver promises: an `include` filter, one
 * progress event per file, a size check of each blob against the Hub's listing, `refs/<revision>`
 * written (atomically) only after every file is complete, and on failure every blob and link this
 * call created is removed again. Returns the snapshot directory.
 */
export async function downloadSnapshot(options: HubDownloadOptions): Promise<string> {
  const { repoId, kind, revision, endpoint, token, cacheDir, fetch } = options;
  const hub = await import('@huggingface/hub');
  if (token !== undefined && token !== '' && !token.startsWith('hf_')) {
    throw new InvalidArgumentError({
      argument: 'token',
      message: 'a Hugging Face token starts with "hf_" (check HF_TOKEN / HUGGING_FACE_HUB_TOKEN).',
    });
  }
  const common = { hubUrl: endpoint, fetch, ...(token === undefined || token === '' ? {} : { accessToken: token }) };
  const repo = { type: kind, name: repoId } as const;
  const repoDir = join(cacheDir, repoFolderName(repoId, kind));
  const before = new Set([...(await listTree(join(repoDir, 'blobs'))), ...(await listTree(join(repoDir, 'snapshots')))]);

  try {
    const info =
      kind === 'model'
        ? await hub.modelInfo({ name: repoId, revision, additionalFields: ['sha'], ...common })
        : await hub.datasetInfo({ name: repoId, revision, additionalFields: ['sha'], ...common });
    const commit = info.sha;
    if (typeof commit !== 'string' || !COMMIT.test(commit)) {
      throw new LoraError(`${endpoint}: the Hub's info for ${kind} ${repoId}@${revision} has no commit \`sha\` (got ${String(commit)}).`);
    }
    const files: { path: string; size: number }[] = [];
    for await (const entry of hub.listFiles({ repo, recursive: true, revision: commit, ...common })) {
      if (entry.type === 'file' && (options.include?.(entry.path) ?? true)) files.push({ path: entry.path, size: entry.size });
    }

    const snapshot = join(repoDir, 'snapshots', commit);
    await withDebugOnStderr(async () => {
      for (const [i, file] of files.entries()) {
        let link: string;
        try {
          link = await hub.downloadFileToCacheDir({ repo, path: file.path, revision: commit, cacheDir, ...common });
        } catch (error) {
          // 401/403 on a file (a gated repo): reported like a metadata error, with the HF_TOKEN hint.
          if (error instanceof hub.HubApiError && (error.statusCode === 401 || error.statusCode === 403)) throw error;
          // A failed body stream rejects with the message string of the library's HubApiError.
          const reason =
            error instanceof hub.HubApiError ? `HTTP ${error.statusCode}` : error instanceof Error ? error.message : String(error);
          throw new LoraError(`Download of ${repoId}/${file.path} failed: ${reason}.`, { cause: error });
        }
        const bytes = (await stat(link)).size;
        if (bytes !== file.size) {
          await rm(link, { force: true });
          throw new LoraError(`Download of ${repoId}/${file.path} is truncated: ${bytes} of ${file.size} bytes.`);
        }
        options.onProgress?.({
          file: file.path,
          index: i + 1,
          count: files.length,
          bytes,
          total: file.size,
          message: `[lora] downloaded ${repoId}/${file.path} (${bytes} bytes) [${i + 1}/${files.length}]`,
        });
      }
    });
    await mkdir(snapshot, { recursive: true }); // a repo whose files were all filtered out
    if (revision !== commit) {
      const ref = join(repoDir, 'refs', revision);
      await mkdir(dirname(ref), { recursive: true });
      await writeFile(`${ref}.incomplete`, commit);
      await rename(`${ref}.incomplete`, ref);
    }
    return snapshot;
  } catch (error) {
    const created = [...(await listTree(join(repoDir, 'blobs'))), ...(await listTree(join(repoDir, 'snapshots')))];
    for (const path of created.filter((p) => !before.has(p))) {
      await rm(path, { force: true });
      await removeEmptyDirs(dirname(path), cacheDir);
    }
    if (error instanceof hub.HubApiError) {
      const url = error.url.split('?')[0] ?? error.url;
      throw new HubHttpError(url, error.statusCode, error.message.split('. URL: ')[0] ?? '');
    }
    throw error;
  }
}
