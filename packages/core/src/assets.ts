import { existsSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { AssetNotFoundError } from './errors/asset-not-found-error.js';
import { InvalidArgumentError } from './errors/invalid-argument-error.js';
import { LoraError } from './errors/lora-error.js';
import { findCachedSnapshot, hubCacheDir, type Env } from './assets/hf-cache.js';
import { downloadSnapshot, HubHttpError } from './assets/hub-download.js';

/** `name` or `org/name`; no segment may be `.` or `..`. */
const REPO_ID = /^(?!\.\.?(?:\/|$))[\w.-]+(\/(?!\.\.?$)[\w.-]+)?$/;

function truthy(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value);
}

/**
 * Finds a model or data set and returns its absolute local directory (or file) path, looking in
 * this order (docs/architecture.md):
 *
 * 1. an explicit existing path (`options.path`, or `name` itself when it exists on disk);
 * 2. `LORA_ASSETS_DIR`: `<dir>/models/<name>` or `<dir>/data/<name>`, also with only the last
 *    segment of an `org/name` id;
 * 3. the Hugging Face cache (`models--org--name/refs/<revision>` → `snapshots/<commit>`);
 * 4. a download from the Hub into that same cache layout, when allowed.
 *
 * @throws {@link AssetNotFoundError} listing every place tried, with a hint.
 * @example
 * ```ts
 * const dir = await resolveAsset('stories260K', { kind: 'model' }); // $LORA_ASSETS_DIR/models/stories260K
 * ```
 */
export async function resolveAsset(
  name: string,
  options: {
    /** `model` looks in `<assets>/models/` and `models--*` cache entries; `dataset` in `<assets>/data/` and `datasets--*`. */
    kind: 'model' | 'dataset';
    /** An explicit path tried first (the name itself is also tried as a path). */
    path?: string;
    /** Local assets root; default `LORA_ASSETS_DIR`. */
    assetsDir?: string;
    /** Hugging Face home (its `hub/` is the cache); default `HF_HUB_CACHE`, `HF_HOME`, `~/.cache/huggingface`. */
    hfHome?: string;
    /** Download from the Hub when not found locally (default: true unless `HF_HUB_OFFLINE` is set). */
    allowDownload?: boolean;
    /** Branch, tag or commit (default `main`). */
    revision?: string;
    /** Hub base URL (default `HF_ENDPOINT` or `https://huggingface.co`). */
    endpoint?: string;
    /** Hub token (default `HF_TOKEN`, then `HUGGING_FACE_HUB_TOKEN`); sent as a Bearer token. */
    token?: string;
    /** `fetch` implementation (default the global one). */
    fetch?: typeof globalThis.fetch;
    /** Download only the repo files for which this returns true (default: all). */
    include?: (file: string) => boolean;
    /** Called after each downloaded file, with a step of the download for progress output. */
    onProgress?: (progress: {
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
    }) => void;
    /** Environment to read the variables above from (default `process.env`). */
    env?: Env;
  },
): Promise<string> {
  if (name.trim() === '') throw new InvalidArgumentError({ argument: 'name', message: 'the asset name is empty.' });
  const env = options.env ?? process.env;
  const searched: string[] = [];

  for (const candidate of [options.path, name]) {
    if (candidate === undefined) continue;
    const absolute = resolve(candidate);
    if (existsSync(absolute)) return absolute;
    searched.push(`path ${absolute} (does not exist)`);
  }

  const assetsDir = options.assetsDir ?? env.LORA_ASSETS_DIR;
  const sub = options.kind === 'model' ? 'models' : 'data';
  if (assetsDir === undefined || assetsDir === '') {
    searched.push('LORA_ASSETS_DIR (not set)');
  } else {
    const root = resolve(assetsDir, sub);
    const names = [...new Set([name, name.split('/').at(-1) ?? name])];
    for (const n of names) {
      if (isAbsolute(n)) continue; // an absolute path was tried above
      const candidate = resolve(root, n);
      const inside = relative(root, candidate);
      if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
        throw new InvalidArgumentError({
          argument: 'name',
          message: `"${name}" resolves to ${candidate}, outside the assets ${sub} folder ${root}; an asset name is a folder inside it (or a Hugging Face repo id "org/name"). To use another folder, pass its path (which must exist).`,
        });
      }
      if (existsSync(candidate)) return candidate;
      searched.push(`LORA_ASSETS_DIR ${candidate}`);
    }
  }

  const revision = options.revision ?? 'main';
  const cacheDir = resolve(hubCacheDir(env, options.hfHome));
  const isRepoId = REPO_ID.test(name);
  if (isRepoId) {
    const lookup = findCachedSnapshot(cacheDir, name, options.kind, revision);
    if (lookup.snapshot !== undefined) return lookup.snapshot;
    searched.push(`Hugging Face cache ${lookup.checked}`);
  }

  const allowDownload = options.allowDownload ?? !truthy(env.HF_HUB_OFFLINE);
  const endpoint = (options.endpoint ?? env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token = options.token ?? env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  let hint =
    `set LORA_ASSETS_DIR to the folder holding ${sub}/${name.split('/').at(-1) ?? name}, pass an existing path, ` +
    `or use a Hugging Face repo id ("org/name")${allowDownload ? '' : ' with downloads allowed'}.`;
  if (!isRepoId) {
    searched.push(`Hugging Face Hub (skipped: "${name}" is not a repo id)`);
  } else if (!allowDownload) {
    searched.push(`Hugging Face Hub ${endpoint} (skipped: downloads disabled${truthy(env.HF_HUB_OFFLINE) ? ' by HF_HUB_OFFLINE' : ''})`);
  } else {
    try {
      return await downloadSnapshot({
        repoId: name,
        kind: options.kind,
        revision,
        endpoint,
        token,
        cacheDir,
        fetch: options.fetch ?? globalThis.fetch,
        ...(options.include === undefined ? {} : { include: options.include }),
        ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
      });
    } catch (error) {
      if (error instanceof HubHttpError) {
        searched.push(`Hugging Face Hub ${error.url} (HTTP ${error.status})`);
        if (error.status === 401 || error.status === 403) {
          hint = `the repo is private, gated or does not exist: ${
            token === undefined ? 'set HF_TOKEN to a token with access' : 'check that HF_TOKEN has access to it'
          }, or ${hint}`;
        }
      } else if (LoraError.isInstance(error)) {
        throw error;
      } else {
        const reason = error instanceof Error ? (error.cause instanceof Error ? error.cause.message : error.message) : String(error);
        searched.push(`Hugging Face Hub ${endpoint} (unreachable: ${reason})`);
      }
    }
  }
  throw new AssetNotFoundError({ asset: name, searched, hint });
}
