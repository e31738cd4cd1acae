#!/usr/bin/env bash
# Installs a software WebGPU stack for the opt-in `pnpm test:webgpu` job (docs/webgpu.md):
# Mesa >= 25 lavapipe (Vulkan on the CPU) from bookworm-backports, which Dawn (the `webgpu` npm
# package) accepts as an adapter; Mesa 22 from bookworm itself is too old. Also installs the
# llvmpipe GLES/EGL path (LORA_WEBGPU_BACKEND=opengles). Idempotent: safe to run again.
#
# Usage: sudo tools/webgpu/setup.sh          (root, or sudo available; Debian 12 bookworm)
# Then:  pnpm test:webgpu
#
# Environment it exports (to $GITHUB_ENV when set, else printed as `export` lines to eval):
#   VK_ICD_FILENAMES  the lavapipe ICD only, so Dawn does not probe GPU drivers that are absent
#   EGL_PLATFORM      surfaceless (only read by the opengles path)
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

. /etc/os-release
if [ "${ID:-}" != "debian" ] || [ "${VERSION_CODENAME:-}" != "bookworm" ]; then
  echo "tools/webgpu/setup.sh: written for Debian 12 (bookworm); found ${PRETTY_NAME:-unknown}." >&2
  echo "Install Mesa >= 25 (mesa-vulkan-drivers, libvulkan1) with your distribution's tools, then run pnpm test:webgpu." >&2
  exit 1
fi

# bookworm-backports carries Mesa 25 (bookworm itself has 22.3, whose lavapipe Dawn rejects).
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  $SUDO tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<'EOF'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  echo "added /etc/apt/sources.list.d/bookworm-backports.sources"
fi

mesa_version() { dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true; }
current="$(mesa_version)"
if [ -z "$current" ] || dpkg --compare-versions "$current" lt 25; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q -t bookworm-backports \
    mesa-vulkan-drivers libvulkan1 vulkan-tools libegl-mesa0 libgles2 libgl1-mesa-dri
fi
echo "mesa-vulkan-drivers $(mesa_version)"

ICD=/usr/share/vulkan/icd.d/lvp_icd.json
if [ ! -f "$ICD" ]; then
  echo "tools/webgpu/setup.sh: $ICD is missing after the install; check the mesa-vulkan-drivers package." >&2
  exit 1
fi

# Lavapipe must show up as a Vulkan device (it reports itself as llvmpipe, deviceType CPU).
if ! VK_ICD_FILENAMES="$ICD" vulkaninfo --summary 2>/dev/null | grep -q "DRIVER_ID_MESA_LLVMPIPE"; then
  echo "tools/webgpu/setup.sh: vulkaninfo does not list lavapipe; run 'VK_ICD_FILENAMES=$ICD vulkaninfo --summary'." >&2
  exit 1
fi
VK_ICD_FILENAMES="$ICD" vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverInfo" | sed 's/^\s*/  /'

vars=("VK_ICD_FILENAMES=$ICD" "EGL_PLATFORM=surfaceless")
if [ -n "${GITHUB_ENV:-}" ]; then
  printf '%s\n' "${vars[@]}" >>"$GITHUB_ENV"
  echo "wrote ${vars[*]} to \$GITHUB_ENV"
else
  echo "# eval these (or prefix the test command with them):"
  for v in "${vars[@]}"; do echo "export $v"; done
fi
