#!/usr/bin/env bash
# Makes an installed @tensorflow/tfjs-node (or, with --gpu, @tensorflow/tfjs-node-gpu) 4.22.0
# work without Google storage: libtensorflow (the TensorFlow C API) is taken from a TensorFlow
# wheel on PyPI, staged in the package's deps/ folder, and the native addon is built from source
# with node-gyp. Downloads come only from PyPI (the wheel) and, when node-gyp is missing, npm.
#
# Usage:
#   npm i @tensorflow/tfjs-node@4.22.0 --ignore-scripts     # or: pnpm add ... (scripts not run)
#   tools/tfjs-node/setup.sh [options] <node_modules dir | package dir>
#
# Options:
#   --gpu               set up @tensorflow/tfjs-node-gpu from the `tensorflow` wheel (CUDA build)
#                       instead of @tensorflow/tfjs-node from `tensorflow-cpu`
#   --tf-version V      TensorFlow wheel version (default 2.15.1; tested: 2.15.1, see docs)
#   --cache DIR         where wheels are downloaded and unpacked
#                       (default ${XDG_CACHE_HOME:-~/.cache}/lora/tfjs-node)
#   --cuda              with --gpu: also install the CUDA 12 / cuDNN runtime the wheel was built
#                       against (its `and-cuda` extra: nvidia-*-cu12 wheels from PyPI, ~3 GB) into
#                       deps/nvidia, where libtensorflow's RUNPATH ($ORIGIN/../nvidia/*/lib) finds them
#   --force             rebuild even if the package is already set up
#
# Environment: PYTHON (default python3, used for `pip download`), NODE_GYP (path to node-gyp.js).
# Idempotent: a second run with the same wheel only re-checks that the addon loads.
# Full explanation, GPU notes and measurements: docs/tensorflow-backend.md.
set -euo pipefail

die() { echo "setup.sh: $*" >&2; exit 1; }
log() { echo "[tfjs-node setup] $*" >&2; }

gpu=0
cuda=0
tf_version=2.15.1
cache="${XDG_CACHE_HOME:-$HOME/.cache}/lora/tfjs-node"
force=0
target=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --gpu) gpu=1 ;;
    --cuda) cuda=1 ;;
    --tf-version) tf_version="${2:?--tf-version needs a value}"; shift ;;
    --cache) cache="${2:?--cache needs a value}"; shift ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ -z "$target" ]] || die "only one target directory, got '$target' and '$1'"; target="$1" ;;
  esac
  shift
done
[[ $cuda == 0 || $gpu == 1 ]] || die "--cuda only makes sense with --gpu"
[[ -n "$target" ]] || die "give the node_modules folder (or the package folder) to set up; see --help"
[[ "$(uname -s)-$(uname -m)" == "Linux-x86_64" ]] || die "only Linux x86_64 is supported (PyPI wheels for other platforms are not wired up)"

if [[ $gpu == 1 ]]; then pkg_name=@tensorflow/tfjs-node-gpu; wheel_name=tensorflow; else pkg_name=@tensorflow/tfjs-node; wheel_name=tensorflow-cpu; fi

# --- the package folder (pnpm: node_modules/@tensorflow/x is a symlink into .pnpm) -----------
if [[ -f "$target/package.json" ]] && grep -q "\"name\": \"$pkg_name\"" "$target/package.json"; then
  pkg_dir="$target"
elif [[ -f "$target/$pkg_name/package.json" ]]; then
  pkg_dir="$target/$pkg_name"
else
  die "$pkg_name is not installed in '$target'. Install it first without scripts: npm i $pkg_name@4.22.0 --ignore-scripts"
fi
pkg_dir="$(cd "$pkg_dir" && pwd -P)"
pkg_version="$(node -p "require('$pkg_dir/package.json').version")"
[[ "$pkg_version" == 4.* ]] || log "warning: $pkg_name $pkg_version was not tested (4.22.0 was)"
log "package: $pkg_dir ($pkg_name $pkg_version)"

# Where @mapbox/node-pre-gyp will look for the addon at run time (lib/napi-vN/tfjs_binding.node).
binding_path="$(cd "$pkg_dir" && node -p "require(require.resolve('@mapbox/node-pre-gyp', {paths: ['$pkg_dir']})).find('$pkg_dir/package.json')")"
module_path="$(dirname "$binding_path")"
napi_version="${module_path##*napi-v}"
[[ "$napi_version" =~ ^[0-9]+$ ]] || die "could not work out the N-API version from '$binding_path'"

check_addon() {
  # Loads the package, checks the backend, runs a matmul and a gradient; prints the TF version.
  (cd "$pkg_dir" && node -e "
    const tf = require('$pkg_dir');
    if (tf.getBackend() !== 'tensorflow') throw new Error('backend is ' + tf.getBackend());
    const y = tf.matMul(tf.tensor2d([[1, 2], [3, 4]]), tf.tensor2d([[5, 6], [7, 8]])).arraySync();
    if (JSON.stringify(y) !== '[[19,22],[43,50]]') throw new Error('matmul gave ' + JSON.stringify(y));
    const g = tf.grad((x) => x.square().sum())(tf.tensor1d([1, 2, 3])).arraySync();
    if (JSON.stringify(g) !== '[2,4,6]') throw new Error('gradient gave ' + JSON.stringify(g));
    console.log('ok: backend tensorflow, libtensorflow ' + tf.backend().binding.TF_Version);
  " 2>/dev/null)
}

# --- lora_ops.node: @lora/models' own TensorFlow kernels (ops/*.cc), built against the same wheel --
# Compiled with -march=native: the file is built on the machine that runs it. Rebuilt when the
# sources change (their hash is in the file's stamp). Optional: @lora/models runs without it (its
# GGUF weights are then dequantized to float32 on load), so a failed build only warns.
ops_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/ops" && pwd)"
ops_path="$module_path/lora_ops.node"
ops_hash() { cat "$ops_dir"/*.cc "$ops_dir"/*.h | sha256sum | cut -c1-16; }
build_ops() {
  local inc="$1" lib_dir="$2" want; want="$(ops_hash)"
  if [[ $force == 0 && -f "$ops_path" && "$(cat "$ops_path.stamp" 2>/dev/null)" == "$want" ]]; then return 0; fi
  log "building lora_ops.node from $ops_dir"
  local cxx="${CXX:-g++}" tmp="$ops_path.$$.tmp"
  local node_inc="$node_prefix/include/node"
  [[ -f "$node_inc/node_api.h" ]] || node_inc="$(node -p "require('node-addon-api').include_dir" 2>/dev/null || true)"
  if ! "$cxx" -std=c++17 -O3 -march=native -ffp-contract=off -shared -fPIC -D_GLIBCXX_USE_CXX11_ABI=1 -DEIGEN_MAX_ALIGN_BYTES=64 \
       -DNODE_GYP_MODULE_NAME=lora_ops -I"$inc" -I"$node_inc" "$ops_dir"/*.cc -o "$tmp" \
       -L"$lib_dir" -l:libtensorflow_framework.so.2 -Wl,-rpath,'$ORIGIN/../../deps/lib' >&2; then
    rm -f "$tmp"; log "warning: lora_ops.node did not build; GGUF block kernels are off (weights dequantized on load) and NF4 layers dequantize with tfjs ops"; return 0
  fi
  mv "$tmp" "$ops_path"; echo "$want" > "$ops_path.stamp"
  log "built $ops_path"
}
node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"

stamp="$pkg_dir/deps/lora-libtensorflow.txt"
want_stamp="$wheel_name==$tf_version napi-v$napi_version"
if [[ $cuda == 1 ]]; then want_stamp+=" +cuda"; fi
if [[ $force == 0 && -f "$stamp" && "$(cat "$stamp")" == "$want_stamp" && -f "$binding_path" ]]; then
  if out="$(check_addon)"; then
    log "already set up ($want_stamp): $out"
    ex_inc="$(ls -d "$cache/extract/${wheel_name//-/_}-$tf_version-"*/tensorflow/include 2>/dev/null | head -n1 || true)"
    if [[ -n "$ex_inc" ]]; then build_ops "$ex_inc" "$pkg_dir/deps/lib"
    else log "warning: the wheel's headers are not in $cache/extract; rerun with --force to build lora_ops.node"; fi
    exit 0
  fi
  log "stamp found but the addon does not load; rebuilding"
fi

# --- 1. the wheel, from PyPI -------------------------------------------------------------
mkdir -p "$cache/wheels"
find_wheel() { ls "$cache/wheels/${wheel_name//-/_}-$tf_version-"*manylinux*x86_64.whl 2>/dev/null | head -n1; }
wheel="$(find_wheel || true)"
if [[ -z "$wheel" ]]; then
  log "downloading $wheel_name==$tf_version from PyPI (about 200 MB cpu, 500+ MB gpu)"
  py="${PYTHON:-python3}"
  # The shared libraries do not depend on the Python version: ask for a cp311 wheel whatever
  # the local interpreter is, so the same file is used everywhere.
  if ! "$py" -m pip download --no-deps --only-binary=:all: --implementation cp --python-version 3.11 \
        --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux_2_27_x86_64 \
        --platform manylinux_2_28_x86_64 -d "$cache/wheels" "$wheel_name==$tf_version" >&2; then
    log "pip download failed; trying PyPI's simple index (PEP 691 JSON) directly"
    url="$(node -e "
      const [name, version] = process.argv.slice(1);
      fetch('https://pypi.org/simple/' + name + '/', { headers: { accept: 'application/vnd.pypi.simple.v1+json' } })
        .then((r) => { if (!r.ok) throw new Error('PyPI answered ' + r.status); return r.json(); })
        .then((j) => {
          const prefix = name.replace(/-/g, '_') + '-' + version + '-cp311-cp311-manylinux';
          const f = j.files.find((u) => u.filename.startsWith(prefix) && u.filename.endsWith('x86_64.whl'));
          if (!f) throw new Error('no cp311 manylinux x86_64 wheel for ' + name + ' ' + version);
          console.log(f.url.split('#')[0] + ' ' + f.hashes.sha256);
        });" "$wheel_name" "$tf_version")"
    file="$cache/wheels/$(basename "${url%% *}")"
    curl -fL --retry 3 -o "$file.part" "${url%% *}"
    echo "${url##* }  $file.part" | sha256sum -c - >&2 || { rm -f "$file.part"; die "checksum mismatch for ${url%% *}"; }
    mv "$file.part" "$file"
  fi
  wheel="$(find_wheel)" || die "no wheel for $wheel_name==$tf_version in $cache/wheels after download"
fi
log "wheel: $wheel"

# --- 2. unpack the two shared libraries and the headers -----------------------------------
ex="$cache/extract/$(basename "$wheel" .whl)"
if [[ ! -f "$ex/.done" ]]; then
  rm -rf "$ex"; mkdir -p "$ex"
  log "unpacking libtensorflow_cc.so.2, libtensorflow_framework.so.2 and headers"
  members=('tensorflow/libtensorflow_cc.so.2' 'tensorflow/libtensorflow_framework.so.2' 'tensorflow/include/*')
  if command -v unzip >/dev/null; then
    unzip -q -o "$wheel" "${members[@]}" -d "$ex"
  else
    "${PYTHON:-python3}" -c "
import fnmatch, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist() if any(fnmatch.fnmatch(n, p) for p in sys.argv[3:])])
" "$wheel" "$ex" "${members[@]}"
  fi
  touch "$ex/.done"
fi
inc="$ex/tensorflow/include"
lib_cc="$ex/tensorflow/libtensorflow_cc.so.2"
lib_fw="$ex/tensorflow/libtensorflow_framework.so.2"
[[ -f "$lib_cc" && -f "$lib_fw" && -f "$inc/tensorflow/c/c_api.h" ]] || die "$wheel lacks libtensorflow_cc.so.2 / libtensorflow_framework.so.2 / tensorflow/c/c_api.h"

# The C and eager C API must be exported by libtensorflow_cc.so.2 (it is, for 2.x wheels).
missing="$(grep -ohE '\bTFE?_[A-Za-z0-9_]+\(' "$pkg_dir"/binding/*.cc "$pkg_dir"/binding/*.h | tr -d '(' | sort -u |
  grep -vE '^(TFE?_Auto|TF_TString_)' |
  comm -23 - <(nm -D --defined-only "$lib_cc" "$lib_fw" | awk '{print $3}' | sed 's/@.*//' | sort -u) || true)"
[[ -z "$missing" ]] || die "libtensorflow from $wheel does not export C API symbols the addon calls: $missing"

# --- 3. stage deps/ as binding.gyp expects: deps/include, deps/lib/libtensorflow{,_framework}.so
deps="$pkg_dir/deps"
rm -rf "$deps"; mkdir -p "$deps/lib" "$deps/include"
probe="$(mktemp --suffix=.cc)"; trap 'rm -f "$probe"' EXIT
grep -hE '^#include "tensorflow/' "$pkg_dir"/binding/*.cc "$pkg_dir"/binding/*.h | sort -u > "$probe"
for h in $(g++ -std=c++17 -I"$inc" -MM "$probe" | tr ' \\' '\n\n' | grep -vE '^$|:$' | grep -v "^$probe"); do
  rel="${h#"$inc"/}"
  mkdir -p "$deps/include/$(dirname "$rel")"; cp "$inc/$rel" "$deps/include/$rel"
done
# Hard links save 600+ MB when the cache is on the same file system.
for f in "$lib_cc" "$lib_fw"; do ln -f "$f" "$deps/lib/" 2>/dev/null || cp "$f" "$deps/lib/"; done
# The addon links -ltensorflow -ltensorflow_framework; the linker records the SONAMEs
# (libtensorflow_cc.so.2, libtensorflow_framework.so.2), found at run time through the addon's
# rpath $ORIGIN/../../deps/lib.
ln -sf libtensorflow_cc.so.2 "$deps/lib/libtensorflow.so"
ln -sf libtensorflow_framework.so.2 "$deps/lib/libtensorflow_framework.so"

if [[ $cuda == 1 ]]; then
  # The pins of the wheel's own `and-cuda` extra (PEP 508 strings, passed to pip as they are).
  mapfile -t cuda_reqs < <("${PYTHON:-python3}" -c "
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))).decode())
" "$wheel" | tr -d '\r' |
    sed -n "s/^Requires-Dist: \(nvidia-[^;]*\); *extra *== *['\"]and-cuda['\"].*/\1/p" | sed 's/ *$//')
  [[ ${#cuda_reqs[@]} -gt 0 ]] || die "$wheel declares no and-cuda extra; install CUDA/cuDNN yourself (see docs)"
  log "installing the CUDA runtime into $deps/nvidia: ${cuda_reqs[*]}"
  "${PYTHON:-python3}" -m pip install --no-deps --only-binary=:all: --no-compile --target "$deps" \
    --cache-dir "$cache/pip" "${cuda_reqs[@]}" >&2
fi

# --- 4. build the addon from source ------------------------------------------------------
node_gyp="${NODE_GYP:-}"
if [[ -z "$node_gyp" ]]; then
  cand="$(npm root -g 2>/dev/null)/npm/node_modules/node-gyp/bin/node-gyp.js"
  [[ -f "$cand" ]] && node_gyp="$cand"
fi
if [[ -n "$node_gyp" ]]; then gyp=(node "$node_gyp"); else gyp=(npx --yes node-gyp@10.2.0); fi
# Node's own headers (a Debian/Ubuntu nodejs or a nodejs.org tarball ships include/node):
nodedir_args=()
if [[ -f "$node_prefix/include/node/node_api.h" ]]; then nodedir_args=(--nodedir="$node_prefix")
elif [[ -n "${npm_config_nodedir:-}" ]]; then nodedir_args=(--nodedir="$npm_config_nodedir")
else log "no Node headers under $node_prefix/include/node: node-gyp will download them from nodejs.org"; fi
log "building the addon (napi-v$napi_version) with ${gyp[*]} ${nodedir_args[*]}"
(cd "$pkg_dir" && "${gyp[@]}" rebuild "${nodedir_args[@]}" --module_name=tfjs_binding \
   --module_path="$module_path" --napi_build_version="$napi_version" >&2)
[[ -f "$binding_path" ]] || die "the build did not produce $binding_path"

build_ops "$inc" "$deps/lib"
echo "$want_stamp" > "$stamp"
out="$(check_addon)" || die "built, but the addon does not load or compute correctly; run: node -e \"require('$pkg_dir')\""
log "$out"
