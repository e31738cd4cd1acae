import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Asset kinds: Hugging Face repo types `model` and `dataset`. */
export type AssetKind = 'model' | 'dataset';

/** Environment variables the resolver reads. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The Hugging Face hub cache directory, as huggingface_hub computes it: `HF_HUB_CACHE`
 * (or the legacy `HUGGINGFACE_HUB_CACHE`), else `<HF_HOME>/hub`, where `HF_HOME` defaults to
 * `$XDG_CACHE_HOME/huggingface` or `~/.cache/huggingface`. `hfHome` overrides `HF_HOME`.
 */
export function hubCacheDir(env: Env, hfHome?: string): string {
  if (hfHome === undefined) {
    const explicit = env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE;
    if (explicit !== undefined && explicit !== '') return explicit;
  }
  const home = hfHome ?? env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), '.cache'), 'huggingface');
  return join(home, 'hub');
}

/** `models--org--name` / `datasets--org--name`: the cache folder of one repo. */
export function repoFolderName(repoId: string, kind: AssetKind): string {
  return [`${kind}s`, ...repoId.split('/')].join('--');
}

const COMMIT = /^[0-9a-f]{40}$/;

/** True when `revision` is a full commit hash (used as a snapshot name directly). */
export function isCommitHash(revision: string): boolean {
  return COMMIT.test(revision);
}

/** Result of looking a repo up in the cache: the snapshot path if present, and what was checked. */
export interface CacheLookup {
  snapshot: string | undefined;
  checked: string;
}

/**
 * Finds `<cache>/<kind>s--org--name/snapshots/<commit>` for `revision`: a commit hash names the
 * snapshot directly; a branch or tag is read from `refs/<revision>`.
 */
export function findCachedSnapshot(cacheDir: string, repoId: string, kind: AssetKind, revision: string): CacheLookup {
  const repoDir = join(cacheDir, repoFolderName(repoId, kind));
  let commit: string | undefined;
  let checked: string;
  if (isCommitHash(revision)) {
    commit = revision;
    checked = join(repoDir, 'snapshots', revision);
  } else {
    const ref = join(repoDir, 'refs', revision);
    checked = `${ref} -> snapshots/<commit>`;
    if (existsSync(ref)) commit = readFileSync(ref, 'utf8').trim();
  }
  if (commit === undefined || !isCommitHash(commit)) return { snapshot: undefined, checked };
  const snapshot = join(repoDir, 'snapshots', commit);
  return { snapshot: existsSync(snapshot) && statSync(snapshot).isDirectory() ? snapshot : undefined, checked };
}
