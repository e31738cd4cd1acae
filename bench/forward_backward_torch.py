"""Reference side of bench/forward-backward.mjs: one training-style forward + backward in PyTorch.

Reads one JSON object on stdin:
  {"threads": [int, ...], "runs": int,
   "workloads": [{"name": str, "batch": int, "seq": int, "config": {LlamaConfig kwargs}}]}
and prints one JSON object: {"torch": ver, "transformers": ver,
  "results": [{"name": str, "threads": int, "tokens_per_s": float, "cpu_tokens_per_s": float,
               "seconds": [float, ...], "cpu_seconds": [float, ...]}]}.

The step matches the @lora side: every nn.Linear of the decoder (and an untied lm_head) trainable,
embeddings and norms frozen, loss = sum(logits * R) with R fixed random weights, backward. Weights
are random (throughput does not depend on their values). Not run by the tests; called by
`node bench/forward-backward.mjs` with the same configs and shapes.
"""
import json
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM


def step(model, ids, weights):
    model.zero_grad(set_to_none=True)
    logits = model(input_ids=ids, use_cache=False).logits
    loss = (logits * weights).sum()
    loss.backward()
    return float(loss)


def main() -> None:
    spec = json.load(sys.stdin)
    results = []
    for workload in spec["workloads"]:
        torch.manual_seed(0)
        config = LlamaConfig(**workload["config"])
        model = LlamaForCausalLM(config).train()
        for name, param in model.named_parameters():
            trainable = param.dim() == 2 and "embed_tokens" not in name
            if config.tie_word_embeddings and name.startswith("lm_head"):
                trainable = False
            param.requires_grad_(trainable)
        batch, seq = int(workload["batch"]), int(workload["seq"])
        ids = torch.randint(0, config.vocab_size, (batch, seq))
        weights = torch.randn(batch, seq, config.vocab_size)
        for threads in spec["threads"]:
            torch.set_num_threads(int(threads))
            step(model, ids, weights)  # warm-up, excluded
            seconds, cpu_seconds = [], []
            for _ in range(int(spec["runs"])):
                wall0, cpu0 = time.perf_counter(), time.process_time()
                step(model, ids, weights)
                seconds.append(time.perf_counter() - wall0)
                cpu_seconds.append(time.process_time() - cpu0)
            median = sorted(seconds)[len(seconds) // 2]
            cpu_median = sorted(cpu_seconds)[len(cpu_seconds) // 2]
            results.append(
                {
                    "name": workload["name"],
                    "threads": torch.get_num_threads(),
                    "tokens_per_s": batch * seq / median,
                    "cpu_tokens_per_s": batch * seq / cpu_median,
                    "seconds": seconds,
                    "cpu_seconds": cpu_seconds,
                }
            )
    json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
