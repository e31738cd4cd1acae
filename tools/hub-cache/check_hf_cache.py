"""Reads a Hugging Face cache folder written by @lora/core's downloader with the real huggingface_hub.

Usage: python check_hf_cache.py CACHE_DIR REPO_TYPE REPO_ID REVISION FILE [FILE ...]

Offline only (HF_HUB_OFFLINE=1): for each FILE, `hf_hub_download(..., local_files_only=True)` and
`try_to_load_from_cache` must both find it; `scan_cache_dir` must list the repo without warnings.
Prints one JSON object: {"files": {FILE: sha256 of the content}, "scan": {...}}; exits non-zero on
any failure, with huggingface_hub's own error.
"""

import hashlib
import json
import os
import sys

os.environ["HF_HUB_OFFLINE"] = "1"

from huggingface_hub import hf_hub_download, scan_cache_dir, try_to_load_from_cache  # noqa: E402


def main() -> None:
    cache_dir, repo_type, repo_id, revision, *files = sys.argv[1:]
    out = {"files": {}, "scan": {}}
    for name in files:
        path = hf_hub_download(
            repo_id, name, repo_type=repo_type, revision=revision, cache_dir=cache_dir, local_files_only=True
        )
        cached = try_to_load_from_cache(repo_id, name, cache_dir=cache_dir, revision=revision, repo_type=repo_type)
        if cached != path:
            raise SystemExit(f"try_to_load_from_cache({name!r}) = {cached!r}, hf_hub_download = {path!r}")
        with open(path, "rb") as f:
            out["files"][name] = hashlib.sha256(f.read()).hexdigest()
    info = scan_cache_dir(cache_dir)
    if info.warnings:
        raise SystemExit("scan_cache_dir warnings: " + "; ".join(str(w) for w in info.warnings))
    repo = next(r for r in info.repos if r.repo_id == repo_id and r.repo_type == repo_type)
    out["scan"] = {
        "revisions": [
            {
                "commit": rev.commit_hash,
                "refs": sorted(rev.refs),
                "files": sorted(str(f.file_path.relative_to(rev.snapshot_path)) for f in rev.files),
            }
            for rev in sorted(repo.revisions, key=lambda r: r.commit_hash)
        ],
        "size_on_disk": repo.size_on_disk,
    }
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
