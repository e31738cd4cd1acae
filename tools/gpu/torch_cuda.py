"""PyTorch CUDA side of tools/gpu (issue 19): the bench/ workloads on the GPU, fed the same inputs
as the @lora WebGPU side (the spec written by `node bench-webgpu.mjs --spec FILE`).

    python3 tools/gpu/torch_cuda.py SPEC.json OUT.json [--only W2,SMOL,W4,W5,PEAK]

Each workload mirrors the CPU reference script of bench/ on device "cuda":
  W2, SMOL  bench/train_sft_torch.py: LlamaForCausalLM + PEFT LoRA (r 16, alpha 32, all 7 linears),
            forward(labels) -> backward -> clip_grad_norm_(1.0) -> AdamW.step -> scheduler ->
            zero_grad, median step time after the warm-up step(s), fp32 weights.
  W4        bench/decode_transformers.py: greedy generate, KV cache, batch 1, 128 new tokens.
  W5        bench/mc_score_torch.py: 8 requests per forward, right padding, log_softmax + gather;
            the 8 sums of a batch come back in one read (the CPU script reads each with .item()).
  PEAK      torch.mm fp32 rate (CUDA events), with TF32 off and on.
Every timing synchronises the device (torch.cuda.synchronize) before reading the clock. Matmul
precision: fp32 ("highest", PyTorch's default) for every row; training is repeated with TF32
("high") for context. Peak memory per workload: torch.cuda.max_memory_allocated / _reserved.
OUT.json is rewritten after every workload, so a timeout keeps what finished.
"""
import json
import os
import statistics
import sys
import time

import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

# LORA_GPU_BENCH_DEVICE=cpu runs the same code on the CPU (a local check of the script, tiny specs).
DEV = os.environ.get("LORA_GPU_BENCH_DEVICE", "cuda")
ON_GPU = DEV != "cpu"


def sync() -> None:
    if ON_GPU:
        torch.cuda.synchronize()


def mem() -> dict:
    if not ON_GPU:
        return {"max_allocated_bytes": None, "max_reserved_bytes": None}
    return {
        "max_allocated_bytes": torch.cuda.max_memory_allocated(),
        "max_reserved_bytes": torch.cuda.max_memory_reserved(),
    }


def reset_mem() -> None:
    if not ON_GPU:
        return
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()


def llama(config: dict) -> LlamaForCausalLM:
    torch.manual_seed(0)
    return LlamaForCausalLM(LlamaConfig(**config)).to(DEV)


def matmul_peak() -> dict:
    out = {}
    for precision in ("highest", "high"):
        torch.set_float32_matmul_precision(precision)
        by = {}
        for n in (1024, 2048, 4096, 8192):
            a = torch.randn(n, n, device=DEV)
            b = torch.randn(n, n, device=DEV)
            for _ in range(3):
                torch.mm(a, b)
            reps = max(5, min(50, round(2e12 / (2 * n**3))))
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(reps):
                torch.mm(a, b)
            end.record()
            sync()
            by[str(n)] = 2 * n**3 * reps / (start.elapsed_time(end) / 1000) / 1e9
            del a, b
        out["fp32" if precision == "highest" else "tf32"] = {"gflops": max(by.values()), "by_size": by}
    torch.set_float32_matmul_precision("highest")
    return out


def train(w: dict, spec: dict, precision: str) -> dict:
    torch.set_float32_matmul_precision(precision)
    reset_mem()
    model = llama(w["config"])
    lora = LoraConfig(r=spec["lora"]["r"], lora_alpha=spec["lora"]["alpha"], lora_dropout=0.0, target_modules=spec["lora"]["targets"], task_type="CAUSAL_LM")
    model = get_peft_model(model, lora)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    total = spec["warmup"] + spec["steps"]
    optimizer = torch.optim.AdamW(params, lr=spec["lr"], weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / total))
    batches = [torch.tensor(b, dtype=torch.long, device=DEV) for b in w["batches"]]
    step_s, fwd_s, losses, first = [], [], [], None
    for step in range(total):
        ids = batches[step % len(batches)]
        sync()
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        sync()
        t1 = time.perf_counter()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        sync()
        t3 = time.perf_counter()
        if step < spec["warmup"]:
            first = t3 - t0 if first is None else first
        else:
            step_s.append(t3 - t0)
            fwd_s.append(t1 - t0)
    tokens = batches[0].numel()
    result = {
        "name": w["name"],
        "precision": "fp32" if precision == "highest" else "tf32",
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "tokens_per_s": tokens / statistics.median(step_s),
        "step_seconds": step_s,
        "first_step_seconds": first,
        "forward_s": statistics.median(fwd_s),
        "losses": losses,
        "trainable_params": sum(p.numel() for p in params),
        **mem(),
    }
    del model, optimizer, batches
    torch.set_float32_matmul_precision("highest")
    return result


def decode(d: dict, spec: dict) -> dict:
    reset_mem()
    model = llama(d["config"]).eval()
    ids = torch.tensor([d["prompt"]], dtype=torch.long, device=DEV)
    n = int(spec["new_tokens"])
    kwargs = dict(max_new_tokens=n, min_new_tokens=n, do_sample=False, use_cache=True, eos_token_id=None, pad_token_id=0, attention_mask=torch.ones_like(ids))
    seconds = []
    with torch.inference_mode():
        sync()
        t = time.perf_counter()
        model.generate(ids, **kwargs)  # warm-up, excluded
        sync()
        warm = time.perf_counter() - t
        for _ in range(int(spec["runs"])):
            sync()
            t = time.perf_counter()
            out = model.generate(ids, **kwargs)
            sync()
            seconds.append(time.perf_counter() - t)
            assert out.shape[1] == ids.shape[1] + n, out.shape
    result = {"name": d["name"], "tokens_per_s": n / statistics.median(seconds), "seconds": seconds, "warm_seconds": warm, "first_tokens": out[0, ids.shape[1] : ids.shape[1] + 8].tolist(), **mem()}
    del model
    return result


def score(model: torch.nn.Module, requests: list, batch_size: int) -> tuple[list[float], int]:
    sums: list[float] = []
    tokens = 0
    for start in range(0, len(requests), batch_size):
        batch = requests[start : start + batch_size]
        inputs = [(p + c)[:-1] for p, c in batch]
        width = max(len(x) for x in inputs)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        rows, positions, targets = [], [], []
        for row, (x, (p, c)) in enumerate(zip(inputs, batch)):
            ids[row, : len(x)] = torch.tensor(x)
            tokens += len(x)
            rows += [row] * len(c)
            positions += list(range(len(p) - 1, len(p) - 1 + len(c)))
            targets += c
        log_probs = torch.log_softmax(model(input_ids=ids.to(DEV)).logits, dim=-1)
        picked = log_probs[torch.tensor(rows, device=DEV), torch.tensor(positions, device=DEV), torch.tensor(targets, device=DEV)]
        owner = torch.tensor(rows, device=DEV)
        per_row = torch.zeros(len(batch), device=DEV).index_add_(0, owner, picked)
        sums += per_row.tolist()
    return sums, tokens


def mc(m: dict) -> dict:
    reset_mem()
    model = llama(m["config"]).eval()
    with torch.inference_mode():
        sync()
        t = time.perf_counter()
        score(model, m["requests"][: m["batch_size"]], m["batch_size"])  # warm-up
        sync()
        warm = time.perf_counter() - t
        t = time.perf_counter()
        sums, tokens = score(model, m["requests"], m["batch_size"])
        sync()
        seconds = time.perf_counter() - t
    questions = len(m["requests"]) // 4
    result = {"name": m["name"], "seconds": seconds, "warm_seconds": warm, "questions_per_s": questions / seconds, "tokens": tokens, "tokens_per_s": tokens / seconds, "first_sums": sums[:4], **mem()}
    del model
    return result


def main() -> None:
    spec = json.load(open(sys.argv[1]))
    out_path = sys.argv[2]
    only = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else {"PEAK", "W2", "SMOL", "W4", "W5"}
    import peft

    out = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "device": torch.cuda.get_device_name(0) if ON_GPU else "cpu",
        "capability": list(torch.cuda.get_device_capability(0)) if ON_GPU else None,
        "results": {},
    }

    def save() -> None:
        with open(out_path, "w") as f:
            json.dump(out, f, indent=1)

    jobs = [("PEAK", matmul_peak)]
    for w in spec["train"]:
        jobs.append((w["name"], lambda w=w: train(w, spec, "highest")))
    for w in spec["train"]:
        jobs.append((w["name"] + "_tf32", lambda w=w: train(w, spec, "high")))
    jobs.append(("W4", lambda: decode(spec["decode"], spec)))
    jobs.append(("W5", lambda: mc(spec["mc"])))
    for name, job in jobs:
        if name.split("_")[0] not in only:
            continue
        t = time.perf_counter()
        try:
            out["results"][name] = job()
        except Exception as error:  # noqa: BLE001 - reported, not fatal
            out["results"][name] = {"error": f"{type(error).__name__}: {error}"[:500]}
        out["results"][name]["process_seconds"] = time.perf_counter() - t
        r = out["results"][name]
        brief = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items() if k in ("tokens_per_s", "questions_per_s", "error", "max_allocated_bytes", "process_seconds")}
        if name == "PEAK" and "error" not in r:
            brief = {k: round(v["gflops"]) for k, v in r.items() if isinstance(v, dict)}
        print(f"[torch_cuda] {name}: {brief}", file=sys.stderr, flush=True)
        save()
    save()


if __name__ == "__main__":
    main()
