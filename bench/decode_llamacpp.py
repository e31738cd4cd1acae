"""Anchor of W7 (bench/decode.mjs --only smollm2): llama.cpp greedy decode of the SAME GGUF file.

llama-cpp-python's low-level API (the C functions of llama.h through ctypes), so the loop does what
the other two sides do and nothing else: one prefill of the prompts, then one llama_decode per new
token, the next token the arg-max of the logits (end-of-sequence ignored: no stop token), batch rows
as separate sequences of one context. llama.cpp computes on the quantized weights as stored (Q4_1
matrices, Q8_0 embedding: its own kernels, activations quantized to 8 bits for the dot products),
KV cache and attention as its defaults choose.

Reads one JSON object on stdin:
  {"gguf": path, "threads": int, "new_tokens": int, "runs": int,
   "batches": [{"name": str, "prompts": [[int, ...], ...]}]}   (prompts of one batch: same length)
and prints one JSON object: {"llama_cpp_python": ver, "system_info": str, "threads": int,
  "load_seconds": float, "results": [{"name", "batch", "tokens_per_s", "cpu_tokens_per_s", "seconds",
  "cpu_seconds", "tokens": [[int, ...] per row]}]}. tokens/s counts every row's new tokens; the time
covers the prefill and all the decode steps, as on the @lora and transformers sides.
Installed by `pnpm bench:setup --llama-cpp` (bench/requirements-llamacpp.txt, bench/.venv-llama-cpp).
"""
import ctypes
import json
import sys
import time

import llama_cpp as L
import numpy as np

from decode_timing import decode_result, timed_runs


@L.llama_log_callback
def _quiet(level, text, user_data):  # noqa: ARG001 - llama.cpp's load logs would flood stderr
    pass


def greedy(ctx, batch, n_vocab, prompts, new_tokens):
    """One generation: prefill all rows, then new_tokens - 1 decode steps; returns each row's new tokens."""
    L.llama_memory_clear(L.llama_get_memory(ctx), True)
    rows, length = len(prompts), len(prompts[0])
    n = 0
    for r, prompt in enumerate(prompts):
        for p, token in enumerate(prompt):
            batch.token[n] = token
            batch.pos[n] = p
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = r
            batch.logits[n] = 1 if p == length - 1 else 0
            n += 1
    batch.n_tokens = n
    if L.llama_decode(ctx, batch) != 0:
        raise RuntimeError("llama_decode failed on the prompt")
    out_index = [r * length + length - 1 for r in range(rows)]
    out = [[] for _ in range(rows)]
    for step in range(new_tokens):
        for r in range(rows):
            logits = np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, out_index[r]), shape=(n_vocab,))
            out[r].append(int(logits.argmax()))
        if step == new_tokens - 1:
            break
        for r in range(rows):
            batch.token[r] = out[r][-1]
            batch.pos[r] = length + step
            batch.n_seq_id[r] = 1
            batch.seq_id[r][0] = r
            batch.logits[r] = 1
        batch.n_tokens = rows
        out_index = list(range(rows))
        if L.llama_decode(ctx, batch) != 0:
            raise RuntimeError(f"llama_decode failed at step {step}")
    return out


def main() -> None:
    spec = json.load(sys.stdin)
    threads = int(spec["threads"])
    new_tokens = int(spec["new_tokens"])
    L.llama_log_set(_quiet, ctypes.c_void_p(0))
    L.llama_backend_init()
    start = time.perf_counter()
    model = L.llama_model_load_from_file(spec["gguf"].encode(), L.llama_model_default_params())
    if not model:
        raise RuntimeError(f"llama.cpp could not load {spec['gguf']}")
    load_seconds = time.perf_counter() - start
    n_vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    results = []
    for workload in spec["batches"]:
        prompts = workload["prompts"]
        rows, length = len(prompts), len(prompts[0])
        if any(len(p) != length for p in prompts):
            raise ValueError("the prompts of one batch must have the same length")
        per_seq = ((length + new_tokens + 255) // 256) * 256
        params = L.llama_context_default_params()
        params.n_ctx = per_seq * rows
        params.n_batch = max(rows * length, 512)
        params.n_ubatch = params.n_batch
        params.n_seq_max = rows
        params.n_threads = threads
        params.n_threads_batch = threads
        # One KV buffer for all rows. A stream per row (kv_unified False, the default) measured the
        # same: batch 8, 2 threads, idle AMD EPYC, 2026-12-06: 207 vs 201 tok/s (3 runs each).
        params.kv_unified = True
        ctx = L.llama_init_from_model(model, params)
        if not ctx:
            raise RuntimeError("llama_init_from_model failed")
        batch = L.llama_batch_init(params.n_batch, 0, 1)
        try:
            greedy(ctx, batch, n_vocab, prompts, new_tokens)  # warm-up, excluded
            seconds, cpu_seconds, tokens = timed_runs(lambda: greedy(ctx, batch, n_vocab, prompts, new_tokens), int(spec["runs"]))
        finally:
            L.llama_batch_free(batch)
            L.llama_free(ctx)
        results.append(decode_result(workload["name"], rows, new_tokens, seconds, cpu_seconds, batch=rows, tokens=tokens))
    L.llama_model_free(model)
    json.dump(
        {
            "llama_cpp_python": L.__version__,
            "system_info": L.llama_print_system_info().decode().strip(),
            "threads": threads,
            "load_seconds": load_seconds,
            "results": results,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
