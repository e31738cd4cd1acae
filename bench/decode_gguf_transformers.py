"""Reference side of W7 (bench/decode.mjs --only smollm2): transformers' greedy decode of the GGUF model.

transformers loads the SAME GGUF file as @lora (`from_pretrained(dir, gguf_file=...)`, which needs
the `gguf` package: bench/requirements.txt pins it) and dequantizes it to float32, as @lora's loader
does. Reads one JSON object on stdin:
  {"model_dir": str, "gguf_file": str, "threads": int, "new_tokens": int, "runs": int,
   "messages": [[{"role": str, "content": str}, ...], ...],   (the chat each prompt was rendered from)
   "batches": [{"name": str, "prompts": [[int, ...], ...]}]}   (prompts of one batch: same length)
and prints one JSON object: {"torch", "transformers", "threads", "load_seconds",
  "prompt_ids_match": [bool per message list: transformers' apply_chat_template ids == @lora's],
  "results": [{"name", "batch", "tokens_per_s", "cpu_tokens_per_s", "seconds", "cpu_seconds",
               "tokens": [[int, ...] per row]}]}. tokens/s counts every row's new tokens.
No stop token (eos_token_id None): every row produces new_tokens tokens, the arg-max at each step.
"""
import json
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

from decode_timing import decode_result, greedy_generate_kwargs, timed_runs


def main() -> None:
    spec = json.load(sys.stdin)
    torch.set_num_threads(int(spec["threads"]))
    new_tokens = int(spec["new_tokens"])
    start = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(spec["model_dir"], gguf_file=spec["gguf_file"], dtype=torch.float32).eval()
    load_seconds = time.perf_counter() - start
    tokenizer = AutoTokenizer.from_pretrained(spec["model_dir"], gguf_file=spec["gguf_file"])
    first_prompts = spec["batches"][0]["prompts"] + [p for b in spec["batches"][1:] for p in b["prompts"]]
    prompt_ids_match = []
    for messages in spec["messages"]:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if hasattr(ids, "keys") else ids
        prompt_ids_match.append(list(ids) in first_prompts)
    results = []
    for workload in spec["batches"]:
        ids = torch.tensor(workload["prompts"], dtype=torch.long)
        kwargs = greedy_generate_kwargs(ids, new_tokens)

        def run():
            out = model.generate(ids, **kwargs)
            assert out.shape[1] == ids.shape[1] + new_tokens, out.shape
            return out[:, ids.shape[1] :].tolist()

        with torch.inference_mode():
            model.generate(ids, **kwargs)  # warm-up, excluded
            seconds, cpu_seconds, tokens = timed_runs(run, int(spec["runs"]))
        rows = ids.shape[0]
        results.append(decode_result(workload["name"], rows, new_tokens, seconds, cpu_seconds, batch=rows, tokens=tokens))
    json.dump(
        {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "threads": torch.get_num_threads(),
            "load_seconds": load_seconds,
            "prompt_ids_match": prompt_ids_match,
            "results": results,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
