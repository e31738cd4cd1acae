"""Merges one device run of tools/gpu/run.sh into results.json and prints the table.

    python3 report.py WORK_DIR OUT_JSON

WORK_DIR holds torch.json (tools/gpu/torch_cuda.py), wg-<phase>.json (bench-webgpu.mjs, one
process per phase), phases.jsonl (per phase: exit code, seconds, GPU memory.used before and the
peak while it ran, from nvidia-smi sampled every 100 ms) and env.json (versions, driver).
Prints only what is in those files; missing pieces show as n/a with the phase's exit code.
"""
import json
import os
import sys

work, out_path = sys.argv[1], sys.argv[2]


def load(name):
    try:
        with open(os.path.join(work, name)) as f:
            return json.load(f)
    except Exception as error:  # noqa: BLE001
        return {"missing": f"{name}: {type(error).__name__}: {error}"[:300]}


torch = load("torch.json")
try:
    adapter = json.loads(open(os.path.join(work, "adapter.txt")).readline())
except Exception as error:  # noqa: BLE001
    adapter = {"missing": f"adapter.txt: {type(error).__name__}: {error}"[:300]}
env = load("env.json")
phases = {}
try:
    for line in open(os.path.join(work, "phases.jsonl")):
        try:
            p = json.loads(line)
        except json.JSONDecodeError:
            print(f"report.py: bad phases.jsonl line {line!r}", file=sys.stderr)
            continue
        phases[p["name"]] = p
except FileNotFoundError:
    pass
webgpu = {}
for name in phases:
    if name.startswith("wg-"):
        webgpu[name] = load(name + ".json")


def wg(workload):
    for doc in webgpu.values():
        row = doc.get("workloads", {}).get(workload)
        if row is not None:
            return row
    return None


def tr(name):
    return torch.get("results", {}).get(name)


def phase_of(workload):
    for name, doc in webgpu.items():
        if workload in doc.get("workloads", {}):
            return phases.get(name)
    return None


def mib(x):
    return None if x is None else x / 2**20


def f(x, d=1):
    return "n/a" if x is None else f"{x:.{d}f}"


rows = []
for wid, label, unit, ours_key, torch_key in [
    ("W2", "W2 llama-d512 L8 LoRA SFT, 4x256", "tok/s", "tokensPerS", "tokens_per_s"),
    ("SMOL", "SmolLM2-135M-shaped LoRA SFT, 4x96", "tok/s", "tokensPerS", "tokens_per_s"),
    ("W4", "W4 decode llama-d512, batch 1, 128 new", "tok/s", "tokensPerS", "tokens_per_s"),
    ("W5", "W5 MC scoring 200 q x 4 (d512)", "questions/s", "questionsPerS", "questions_per_s"),
]:
    o = wg(wid) or {}
    t = tr(wid) or {}
    t32 = tr(wid + "_tf32") or {}
    ph = phase_of(wid) or phases.get("wg-" + wid.lower()) or {}
    ours = o.get(ours_key)
    ref = t.get(torch_key)
    ref32 = t32.get(torch_key)
    mem_ours = o.get("memoryAfterSteps") or o.get("memory") or {}
    rows.append(
        {
            "id": wid,
            "workload": label,
            "unit": unit,
            "webgpu": ours,
            "torch_cuda_fp32": ref,
            "ratio_vs_fp32": ours / ref if ours and ref else None,
            "torch_cuda_tf32": ref32,
            "ratio_vs_tf32": ours / ref32 if ours and ref32 else None,
            "webgpu_tfjs_allocated_mib": mib(mem_ours.get("numBytesAllocatedInGPU")),
            "webgpu_process_gpu_mib": (ph["peak_mib"] - ph["base_mib"]) if ph.get("peak_mib") is not None and ph.get("base_mib") is not None else None,
            "torch_max_allocated_mib": mib(t.get("max_allocated_bytes")),
            "torch_max_reserved_mib": mib(t.get("max_reserved_bytes")),
            "webgpu_errors": ph.get("webgpu_errors"),
            "webgpu_error": o.get("error")
            or (f"INVALID: {ph['webgpu_errors']} uncaptured WebGPU errors in this phase (dropped command buffers)" if ph.get("webgpu_errors") else None)
            or (None if o else f"no result (phase rc {ph.get('rc', 'not run')})"),
            "torch_error": t.get("error") or (None if t else "no result"),
        }
    )

peak_wg = wg("PEAK") or {}
peak_t = tr("PEAK") or {}
parity = wg("PARITY") or {}
result = {"env": env, "adapter": adapter, "phases": phases, "table": rows, "webgpu": webgpu, "torch": torch, "matmul_peak": {"webgpu_fp32": peak_wg, "torch": peak_t}, "parity": parity}
with open(out_path, "w") as fh:
    json.dump(result, fh, indent=1)

print()
print(f"device: {env.get('gpu', 'n/a')}; driver {env.get('driver', 'n/a')}; node {env.get('node', 'n/a')}; torch {torch.get('torch', 'n/a')} (CUDA {torch.get('cuda', 'n/a')}), transformers {torch.get('transformers', 'n/a')}, peft {torch.get('peft', 'n/a')}")
backend_line = next((d.get("backendLine") for d in webgpu.values() if d.get("backendLine")), "n/a")
print(f"webgpu: {backend_line}")
print(f"adapter: {json.dumps({k: v for k, v in adapter.items() if k != 'features'})}")
print(
    f"fp32 matmul: webgpu {f(peak_wg.get('gflops'), 0)} GFLOP/s (n={peak_wg.get('size')}), "
    f"torch fp32 {f((peak_t.get('fp32') or {}).get('gflops'), 0)}, torch tf32 {f((peak_t.get('tf32') or {}).get('gflops'), 0)} GFLOP/s"
)
if parity:
    print(f"parity webgpu vs cpu (d512 L2 logits): max abs diff {parity.get('maxAbsLogitDiff')}, finite {parity.get('finite')}")
head = f"{'workload':40} {'@lora webgpu':>13} {'torch fp32':>11} {'ratio':>6} {'torch tf32':>11} {'ratio':>6} {'unit':>11} {'wg MiB tfjs/proc':>17} {'torch MiB alloc/res':>20}"
print(head)
for r in rows:
    print(
        f"{r['workload']:40} {f(r['webgpu']):>13} {f(r['torch_cuda_fp32']):>11} {f(r['ratio_vs_fp32'], 3):>6} {f(r['torch_cuda_tf32']):>11} {f(r['ratio_vs_tf32'], 3):>6} {r['unit']:>11} "
        f"{f(r['webgpu_tfjs_allocated_mib'], 0) + '/' + f(r['webgpu_process_gpu_mib'], 0):>17} {f(r['torch_max_allocated_mib'], 0) + '/' + f(r['torch_max_reserved_mib'], 0):>20}"
    )
    for k in ("webgpu_error", "torch_error"):
        if r[k]:
            print(f"   {k}: {r[k][:300]}")
for name, p in phases.items():
    print(f"phase {name}: rc {p.get('rc')} {f(p.get('seconds'))} s, GPU memory.used {p.get('base_mib')} -> peak {p.get('peak_mib')} MiB, WebGPU errors {p.get('webgpu_errors')}")
