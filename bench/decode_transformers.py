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

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

from decode_timing import decode_result, greedy_generate_kwargs, timed_runs


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
        kwargs = greedy_generate_kwargs(ids, new_tokens)

        def run():
            out = model.generate(ids, **kwargs)
            assert out.shape[1] == ids.shape[1] + new_tokens, out.shape

        with torch.inference_mode():
            model.generate(ids, **kwargs)  # warm-up, excluded
            seconds, cpu_seconds, _ = timed_runs(run, int(spec["runs"]))
        results.append(decode_result(workload["name"], 1, new_tokens, seconds, cpu_seconds))
    json.dump(
        {"torch": torch.__version__, "transformers": transformers.__version__, "threads": torch.get_num_threads(), "results": results},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
