"""Reference side of bench/train-sft.mjs (W1-W3): LoRA SFT steps in PyTorch + PEFT (+ bitsandbytes).

Not run by the tests; `node bench/train-sft.mjs` calls it with /opt/parity/bin/python (or
LORA_BENCH_PYTHON) in the same run, with the same model shapes, batches, LoRA config and step
counts as the @lora side. Reads one JSON object on stdin:

  {"threads": [int, ...],                  # torch.set_num_threads for each repetition
   "matmul_sizes": [int, ...],             # square fp32 matmul sizes for the peak GFLOP/s
   "workloads": [{"name": str, "config": {LlamaConfig kwargs}, "quant": null | "nf4",
                  "gradient_checkpointing": bool,
                  "lora": {"r": int, "alpha": float, "targets": [str, ...]},
                  "lr": float, "warmup": int, "steps": int,
                  "batches": [[[int, ...] per row] per batch]}]}

and prints one JSON object on stdout:

  {"torch": ver, "transformers": ver, "peft": ver, "bitsandbytes": ver | null,
   "matmul_peak": {"<threads>": {"gflops": float, "size": int}},
   "results": [{"name": str, "threads": int, "tokens_per_s": float, "step_seconds": [float, ...],
                "cpu_tokens_per_s": float, "step_cpu_seconds": [float, ...],  # process CPU time
                "forward_s": float, "backward_s": float, "optimizer_s": float,
                "bytes_per_param": float | null, "losses": [float, ...]} | {"name", "threads", "error": str}]}

Each step is what transformers' Trainer does per optimizer step without its bookkeeping:
forward with labels (mean causal-LM loss), backward, clip_grad_norm_(1.0), AdamW step (lr from a
linear schedule), zero_grad. Weights are random (throughput does not depend on their values).
W3 replaces the decoder linears by bitsandbytes Linear4bit (NF4, double quant, float32 compute)
before PEFT wraps them, as `from_pretrained(..., quantization_config=BitsAndBytesConfig(...))` does
(lm_head stays dense, as in transformers).
"""
import json
import resource
import statistics
import sys
import time

import torch
import transformers
from peft import LoraConfig, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM


def matmul_peak(threads: int, sizes: list[int]) -> dict:
    torch.set_num_threads(threads)
    best = {"gflops": 0.0, "size": 0}
    for n in sizes:
        a = torch.randn(n, n)
        b = torch.randn(n, n)
        torch.mm(a, b)  # warm-up
        reps = max(2, int(2e9 // (2 * n**3)))
        start = time.perf_counter()
        for _ in range(reps):
            torch.mm(a, b)
        gflops = 2 * n**3 * reps / (time.perf_counter() - start) / 1e9
        if gflops > best["gflops"]:
            best = {"gflops": gflops, "size": n}
    return best


def quantize_linears_nf4(model: torch.nn.Module) -> None:
    """Replaces every nn.Linear inside the decoder layers by bnb Linear4bit (NF4 + double quant)."""
    import bitsandbytes as bnb

    for layer in model.model.layers:
        for parent_name in ("self_attn", "mlp"):
            parent = getattr(layer, parent_name)
            for name, child in list(parent.named_children()):
                if not isinstance(child, torch.nn.Linear):
                    continue
                q = bnb.nn.Linear4bit(
                    child.in_features,
                    child.out_features,
                    bias=child.bias is not None,
                    compute_dtype=torch.float32,
                    quant_type="nf4",
                    compress_statistics=True,
                )
                q.weight = bnb.nn.Params4bit(child.weight.data.clone(), requires_grad=False, quant_type="nf4", compress_statistics=True)
                setattr(parent, name, q.to("cpu"))


def bnb_bytes_per_param(model: torch.nn.Module) -> float | None:
    """Resident bytes of the quantized weights (packed codes + absmax + nested stats) per parameter."""
    import bitsandbytes as bnb

    total_bytes = 0
    params = 0
    for module in model.modules():
        if isinstance(module, bnb.nn.Linear4bit):
            w = module.weight
            qs = w.quant_state
            params += module.in_features * module.out_features
            total_bytes += w.numel() * w.element_size()
            total_bytes += qs.absmax.numel() * qs.absmax.element_size() + qs.code.numel() * qs.code.element_size()
            if qs.state2 is not None:
                s2 = qs.state2
                total_bytes += s2.absmax.numel() * s2.absmax.element_size() + s2.code.numel() * s2.code.element_size()
    return None if params == 0 else total_bytes / params


def run_workload(w: dict, threads: int) -> dict:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**w["config"]))
    if w["quant"] == "nf4":
        quantize_linears_nf4(model)
    lora = LoraConfig(
        r=w["lora"]["r"],
        lora_alpha=w["lora"]["alpha"],
        lora_dropout=0.0,
        target_modules=w["lora"]["targets"],
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, lora)
    if w.get("gradient_checkpointing"):
        # Recompute each layer's activations in backward, as @lora does with gradientCheckpointing.
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    total = w["warmup"] + w["steps"]
    optimizer = torch.optim.AdamW(params, lr=w["lr"], weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / total))
    batches = [torch.tensor(b, dtype=torch.long) for b in w["batches"]]
    step_s, cpu_s, fwd_s, bwd_s, opt_s, losses = [], [], [], [], [], []
    for step in range(total):
        ids = batches[step % len(batches)]
        c0 = time.process_time()
        t0 = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        c3 = time.process_time()
        losses.append(loss.item())
        if step >= w["warmup"]:
            step_s.append(t3 - t0)
            cpu_s.append(c3 - c0)
            fwd_s.append(t1 - t0)
            bwd_s.append(t2 - t1)
            opt_s.append(t3 - t2)
    tokens = batches[0].numel()
    median = statistics.median(step_s)
    return {
        "name": w["name"],
        "threads": threads,
        "tokens_per_s": tokens / median,
        "step_seconds": step_s,
        "cpu_tokens_per_s": tokens / statistics.median(cpu_s),
        "step_cpu_seconds": cpu_s,
        "forward_s": statistics.median(fwd_s),
        "backward_s": statistics.median(bwd_s),
        "optimizer_s": statistics.median(opt_s),
        "bytes_per_param": bnb_bytes_per_param(model) if w["quant"] == "nf4" else None,
        "losses": losses,
        # Process-wide peak (ru_maxrss, KiB on Linux): the workload's own peak when it is the
        # only one this process ran (`--only W6 --torch-threads 2`).
        "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def main() -> None:
    spec = json.load(sys.stdin)
    try:
        import bitsandbytes

        bnb_version = bitsandbytes.__version__
    except Exception:  # noqa: BLE001 - optional
        bnb_version = None
    peak = {str(t): matmul_peak(t, spec["matmul_sizes"]) for t in spec["threads"]}
    results = []
    for w in spec["workloads"]:
        for t in spec["threads"]:
            try:
                if w["quant"] == "nf4" and bnb_version is None:
                    raise RuntimeError("bitsandbytes is not installed")
                results.append(run_workload(w, t))
            except Exception as error:  # noqa: BLE001 - reported, not fatal
                results.append({"name": w["name"], "threads": t, "error": f"{type(error).__name__}: {error}"})
    import peft

    json.dump(
        {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "peft": peft.__version__,
            "bitsandbytes": bnb_version,
            "matmul_peak": peak,
            "results": results,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
