#!/usr/bin/env bash
# Stages everything the GPU machine needs for issue 19 into ONE folder (tools/gpu/README.md):
#   bench-webgpu.mjs.xz  tools/gpu/bench-webgpu.mjs bundled by tools/gpu/build.mjs (esbuild)
#   dawn.node.xz         the `webgpu` package's native Dawn addon (linux-x64)
#   node.xz              this machine's Node binary (x86-64; needs only glibc/libstdc++)
#   debs/                the Vulkan/GL loader packages (libvulkan1, libglvnd0, libglx0, ...)
#   run.sh, torch_cuda.py, report.py, adapter.mjs
# The device machine has no network and no Node: it unpacks these and runs run.sh.
#
#   pnpm build && tools/gpu/stage.sh DEST          (DEST: a git-ignored folder of the checkout that
#                                                   travels to the device, e.g. .gpu)
# Nothing it writes may be committed (binaries, debs, bundles). Total size: about 33 MiB.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dest="${1:?usage: tools/gpu/stage.sh DEST}"
mkdir -p "$dest/debs"
dest="$(cd "$dest" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

node "$root/tools/gpu/build.mjs" "$tmp"
xz -T1 -9 -c "$tmp/bench-webgpu.mjs" >"$dest/bench-webgpu.mjs.xz"

dawn="$(node -e "
const { createRequire } = require('node:module');
const { realpathSync } = require('node:fs');
const r = createRequire(realpathSync('$root/packages/models/package.json'));
console.log(require('node:path').join(require('node:path').dirname(r.resolve('webgpu')), 'dist', 'linux-x64', 'dawn.node'));
")"
[[ -f "$dawn" ]] || { echo "stage.sh: $dawn is missing (pnpm install?)" >&2; exit 1; }
if [[ ! -f "$dest/dawn.node.xz" || "$dawn" -nt "$dest/dawn.node.xz" ]]; then xz -T1 -9 -c "$dawn" >"$dest/dawn.node.xz"; fi

node_bin="$(readlink -f "$(command -v node)")"
if ldd "$node_bin" | grep -qE 'libnode|libuv|libicu'; then
  echo "stage.sh: $node_bin links shared libnode/libuv/libicu (a distribution build); use a nodejs.org build" >&2
  exit 1
fi
if [[ ! -f "$dest/node.xz" || "$node_bin" -nt "$dest/node.xz" ]]; then xz -T1 -9 -c "$node_bin" >"$dest/node.xz"; fi

# The Vulkan loader (and glvnd, which NVIDIA's libGLX_nvidia needs) as in the device notes: amd64
# packages from this machine's apt sources, unpacked with dpkg -x on the device.
if ! ls "$dest"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64)
  mkdir -p /tmp/amd64/partial
  apt-get "${o[@]}" update -q
  (cd "$dest/debs" && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
fi

cp "$root/tools/gpu/run.sh" "$root/tools/gpu/torch_cuda.py" "$root/tools/gpu/report.py" "$root/tools/gpu/adapter.mjs" "$dest/"
du -sh "$dest"
ls -la "$dest" "$dest/debs"
