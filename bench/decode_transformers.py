"""Reference side of bench/decode.mjs: greedy KV-cache decode throughput of transformers.

Reads one JSON object on stdin:
  {"threads": int, "new_tokens": int, "runs": int,
   "workloads": [{"name": str, "prompt": [int, ...], "config": {LlamaConfig kwargs}}]}
and prints one JSON object: {"torch": ver, "transformers": ver, "threads": int,
  "results": [{"name": str, "tokens_per_s": float, "cpu_tokens_per_s": float, "seconds": [float, ...],
               "cpu_seconds": [float, ...]}]} (cpu_*: process CPU time, steadier on a shared machine).
Weights are random (throughput does not depend on their values). Not run by the tests; called by
`node bench/decode.mjs` with the same configs, prompts and thread count as the @lora side.
"""
import json
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM


def main() -> None:
    spec = json.load(sys.stdin)
    torch.set_num_threads(int(spec["threads"]))
    torch.manual_seed(0)
    new_tokens = int(spec["new_tokens"])
    results = []
    for workload in spec["workloads"]:
        config = LlamaConfig(**workload["config"])
        model = LlamaForCausalLM(config).eval()
        ids = torch.tensor([workload["prompt"]], dtype=torch.long)
        kwargs = dict(
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            do_sample=False,
            use_cache=True,
            eos_token_id=None,
            pad_token_id=0,
            attention_mask=torch.ones_like(ids),
        )
        seconds, cpu_seconds = [], []
        with torch.inference_mode():
            model.generate(ids, **kwargs)  # warm-up, excluded
            for _ in range(int(spec["runs"])):
                start, cpu_start = time.perf_counter(), time.process_time()
                out = model.generate(ids, **kwargs)
                seconds.append(time.perf_counter() - start)
                cpu_seconds.append(time.process_time() - cpu_start)
                assert out.shape[1] == ids.shape[1] + new_tokens, out.shape
        best = sorted(seconds)[len(seconds) // 2]
        cpu_best = sorted(cpu_seconds)[len(cpu_seconds) // 2]
        results.append(
            {
                "name": workload["name"],
                "tokens_per_s": new_tokens / best,
                "cpu_tokens_per_s": new_tokens / cpu_best,
                "seconds": seconds,
                "cpu_seconds": cpu_seconds,
            }
        )
    json.dump(
        {"torch": torch.__version__, "transformers": transformers.__version__, "threads": torch.get_num_threads(), "results": results},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
