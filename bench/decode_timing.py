"""Shared timing of the decode references (decode_transformers.py for W4, decode_gguf_transformers.py
and decode_llamacpp.py for W7): transformers' greedy `generate` settings, the timed runs, and the
result record @lora's bench/decode.mjs reads. Standard library only; torch is passed in by callers."""
import time


def greedy_generate_kwargs(ids, new_tokens: int) -> dict:
    """`generate` settings of every decode reference: greedy, exactly `new_tokens` new tokens (no
    stop token), KV cache on, every prompt position attended (`ids` is a torch tensor, unpadded)."""
    return dict(
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        use_cache=True,
        eos_token_id=None,
        pad_token_id=0,
        attention_mask=ids.new_ones(ids.shape),
    )


def timed_runs(run, runs: int):
    """Calls `run()` `runs` times; returns (wall seconds, process CPU seconds, the first call's result)."""
    seconds, cpu_seconds, first = [], [], None
    for i in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = run()
        seconds.append(time.perf_counter() - t0)
        cpu_seconds.append(time.process_time() - c0)
        if i == 0:
            first = out
    return seconds, cpu_seconds, first


def decode_result(name: str, rows: int, new_tokens: int, seconds, cpu_seconds, **extra) -> dict:
    """One workload's record: tokens/s over all rows from the median wall and CPU times, plus `extra`."""
    mid = sorted(seconds)[len(seconds) // 2]
    cpu_mid = sorted(cpu_seconds)[len(cpu_seconds) // 2]
    return {
        "name": name,
        "tokens_per_s": rows * new_tokens / mid,
        "cpu_tokens_per_s": rows * new_tokens / cpu_mid,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        **extra,
    }
