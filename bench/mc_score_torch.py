"""Reference side of bench/mc-score.mjs (W5): multiple-choice log-prob scoring in transformers.

Not run by the tests; `node bench/mc-score.mjs` calls it with /opt/parity/bin/python (or
LORA_BENCH_PYTHON) in the same run. Reads one JSON object on stdin:

  {"threads": [int, ...], "config": {LlamaConfig kwargs}, "batch_size": int,
   "requests": [[prompt ids], [continuation ids]] ...}

and prints {"torch", "transformers", "results": [{"threads", "seconds", "cpu_seconds", "tokens", "sums"}]}
(cpu_seconds: process CPU time, robust to other jobs on a shared machine at 1 thread).
It does what @lora's `scoreContinuations` does: requests in order, `batch_size` per forward,
right-padded (causal attention keeps padding out of real tokens' view), log_softmax over the
vocabulary, the continuation tokens' log-probs summed — lm-evaluation-harness' loglikelihood
without its length sorting. Weights are random (throughput does not depend on their values).
"""
import json
import sys
import time

import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM


def score(model: torch.nn.Module, requests: list, batch_size: int) -> tuple[list[float], int]:
    sums: list[float] = []
    tokens = 0
    for start in range(0, len(requests), batch_size):
        batch = requests[start : start + batch_size]
        inputs = [(p + c)[:-1] for p, c in batch]
        width = max(len(x) for x in inputs)
        ids = torch.zeros((len(batch), width), dtype=torch.long)
        for row, x in enumerate(inputs):
            ids[row, : len(x)] = torch.tensor(x)
            tokens += len(x)
        log_probs = torch.log_softmax(model(input_ids=ids).logits, dim=-1)
        for row, (p, c) in enumerate(batch):
            first = len(p) - 1
            positions = torch.arange(first, first + len(c))
            sums.append(log_probs[row, positions, torch.tensor(c)].sum().item())
    return sums, tokens


def main() -> None:
    spec = json.load(sys.stdin)
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(**spec["config"])).eval()
    results = []
    with torch.inference_mode():
        for threads in spec["threads"]:
            torch.set_num_threads(threads)
            score(model, spec["requests"][: spec["batch_size"]], spec["batch_size"])  # warm-up
            cpu = time.process_time()
            start = time.perf_counter()
            sums, tokens = score(model, spec["requests"], spec["batch_size"])
            seconds = time.perf_counter() - start
            cpu_seconds = time.process_time() - cpu
            results.append({"threads": threads, "seconds": seconds, "cpu_seconds": cpu_seconds, "tokens": tokens, "sums": sums})
    json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
