#!/usr/bin/env bash
# The device script of issue 19 (tools/gpu/README.md): runs on the GPU machine from the folder
# tools/gpu/stage.sh filled (node.xz, dawn.node.xz, bench-webgpu.mjs.xz, debs/, torch_cuda.py,
# report.py, this file). Every phase has a time limit and the whole script a deadline, so the
# table and results.json are written even when a phase hangs or fails.
#
#   bash .gpu/run.sh            (OUT=<folder for results>, default ./gpu-out; BUDGET_S default 400)
#
# Phases: setup (Vulkan loader debs, unpack node and dawn.node), spec (shared inputs), torch
# (tools/gpu/torch_cuda.py: PEAK, W2, SMOL, tf32 repeats, W4, W5), then one Node process per
# WebGPU phase (wg-peak: PEAK+PARITY, wg-w2, wg-smol, wg-w4, wg-w5), each with nvidia-smi
# sampling memory.used every 100 ms; then report.py. Results: $OUT/results.json, $OUT/log.txt,
# $OUT/raw.tgz (every JSON and memory log).
set -u
G="$(cd "$(dirname "$0")" && pwd)"
OUT="${OUT:-$PWD/gpu-out}"
W=/tmp/lora-gpu
BUDGET_S="${BUDGET_S:-400}"
STEPS="${STEPS:-6}"
WARMUP="${WARMUP:-2}"
mkdir -p "$OUT" "$W"
T0=$(date +%s)
DEADLINE=$((T0 + BUDGET_S))
exec > >(tee "$OUT/log.txt") 2>&1

say() { echo "== [$(( $(date +%s) - T0 ))s] $*"; }
memnow() { nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1; }

# phase NAME LIMIT_S CMD...: runs CMD under min(LIMIT_S, time left), samples GPU memory.
phase() {
  local name=$1 limit=$2
  shift 2
  local left=$((DEADLINE - $(date +%s)))
  if ((left < 20)); then
    say "skip $name: deadline"
    echo "{\"name\":\"$name\",\"rc\":\"skipped (deadline)\"}" >>"$W/phases.jsonl"
    return
  fi
  ((limit > left)) && limit=$left
  say "$name (limit ${limit}s)"
  local base
  base=$(memnow)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 >"$W/mem-$name.log" 2>/dev/null &
  local sampler=$!
  local t=$(date +%s.%N)
  timeout -k 5 "$limit" "$@" 2>&1 | tee "$W/out-$name.txt"
  local rc=${PIPESTATUS[0]}
  # An uncaptured WebGPU error (a shader that does not compile, validation) drops a command buffer:
  # the numbers of that phase are not valid. @lora reports them as "[lora] WebGPU error: ...".
  local errors
  errors=$(grep -c '\[lora\] WebGPU error' "$W/out-$name.txt")
  local secs
  secs=$(awk "BEGIN { printf \"%.3f\", $(date +%s.%N) - $t }")
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  local peak
  peak=$(sort -n "$W/mem-$name.log" 2>/dev/null | tail -1)
  echo "{\"name\":\"$name\",\"rc\":$rc,\"seconds\":$secs,\"limit\":$limit,\"base_mib\":${base:-null},\"peak_mib\":${peak:-null},\"webgpu_errors\":${errors:-0}}" >>"$W/phases.jsonl"
  say "$name rc $rc, ${secs}s, memory.used ${base} -> peak ${peak} MiB, WebGPU errors ${errors:-0}"
}

finish() {
  say "report"
  python3 "$G/report.py" "$W" "$OUT/results.json" || say "report.py failed"
  (cd "$W" && tar -czf "$OUT/raw.tgz" ./*.json ./*.jsonl ./*.log ./*.txt 2>/dev/null)
  say "done"
}
trap finish EXIT

# ---- setup ---------------------------------------------------------------------------------
say "setup"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.mem --format=csv
if [[ -z "${SKIP_DEBS:-}" ]]; then # SKIP_DEBS=1: local rehearsal, leave this machine's / alone
  for f in "$G"/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
unxz() { xz -dc "$1" 2>/dev/null || python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)" "$1"; }
mkdir -p "$W/b/dist/linux-x64"
unxz "$G/node.xz" >"$W/node" && chmod +x "$W/node"
unxz "$G/dawn.node.xz" >"$W/b/dist/linux-x64/dawn.node"
unxz "$G/bench-webgpu.mjs.xz" >"$W/b/bench-webgpu.mjs"
cp "$G/adapter.mjs" "$W/b/"
NODE="$W/node"
"$NODE" --version || { say "node does not run here"; exit 1; }
# The NVIDIA Vulkan ICD lives in the driver's read-only mount; the loader does not search there.
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  if [[ -f "$icd" ]]; then
    export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
    break
  fi
done
if [[ -z "${VK_DRIVER_FILES:-}" && -z "${VK_ICD_FILENAMES:-}" ]]; then
  icd=$(timeout 15 find / -xdev -name 'nvidia_icd*.json' -not -path '/proc/*' 2>/dev/null | head -1)
  [[ -n "$icd" ]] && export VK_DRIVER_FILES="$icd" VK_ICD_FILENAMES="$icd"
fi
say "Vulkan ICD: ${VK_DRIVER_FILES:-${VK_ICD_FILENAMES:-none found}}"
[[ -n "${VK_DRIVER_FILES:-}" ]] && cat "$VK_DRIVER_FILES"
ldconfig -p | grep -E "libvulkan|libGLX_nvidia|libGLdispatch|libnvidia-gpucomp|libnvidia-glvkspirv" | head
python3 - "$W/env.json" "$NODE" <<'EOF'
import json, subprocess, sys
def q(*a):
    try:
        return subprocess.run(list(a), capture_output=True, text=True).stdout.strip()
    except OSError as error:
        return None
gpu = q("nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader")
json.dump({"gpu": gpu.split(",")[0].strip() if gpu else None, "driver": gpu.split(",")[1].strip() if gpu else None, "gpu_line": gpu,
           "node": q(sys.argv[2], "--version"), "kernel": q("uname", "-r"), "cpu_count": q("nproc"),
           "vulkan_icd": __import__("os").environ.get("VK_DRIVER_FILES")}, open(sys.argv[1], "w"))
EOF

# BENCH_EXTRA: extra bench-webgpu.mjs flags for a local rehearsal on lavapipe (empty on the device),
# e.g. "--allow-software --tiny --d512-layers 1 --smol-layers 1 --new-tokens 4 --questions 2 --runs 1".
# shellcheck disable=SC2206
BENCH=("$NODE" "$W/b/bench-webgpu.mjs" --steps "$STEPS" --warmup "$WARMUP" ${BENCH_EXTRA:-})
phase spec 30 "${BENCH[@]}" --spec "$W/spec.json"
export PYTHONUNBUFFERED=1
phase torch 110 python3 "$G/torch_cuda.py" "$W/spec.json" "$W/torch.json"
phase adapter 20 bash -c "cd '$W/b' && '$NODE' adapter.mjs | tee '$W/adapter.txt'"
if ! grep -q vendor "$W/adapter.txt" 2>/dev/null; then
  say "no WebGPU adapter: Vulkan loader diagnostics"
  (cd "$W/b" && VK_LOADER_DEBUG=error,warn,driver timeout 20 "$NODE" adapter.mjs 2>&1 | head -60)
fi
phase wg-peak 45 "${BENCH[@]}" --only PEAK,PARITY --json "$W/wg-peak.json"
phase wg-w2 75 "${BENCH[@]}" --only W2 --profile --json "$W/wg-w2.json"
phase wg-smol 90 "${BENCH[@]}" --only SMOL --json "$W/wg-smol.json"
phase wg-w4 60 "${BENCH[@]}" --only W4 --json "$W/wg-w4.json"
phase wg-w5 45 "${BENCH[@]}" --only W5 --json "$W/wg-w5.json"
