"""Reference fixtures for @lora GGUF import (packages/core/src/gguf, packages/models/src/io/gguf).

Written with llama.cpp's gguf-py (`gguf.GGUFWriter`, `gguf.quants.quantize` / `dequantize`) and
transformers' own GGUF loader (`from_pretrained(dir, gguf_file=...)`), so the TypeScript reader,
dequantizers and loader are checked against the reference implementations.

Regenerate (from the repository root):

    /opt/parity/bin/python tools/parity/gguf/make_fixtures.py            # all
    /opt/parity/bin/python tools/parity/gguf/make_fixtures.py blocks tiny llama3  # without SmolLM2
    LORA_ASSETS_DIR=/work/shared /opt/parity/bin/python tools/parity/gguf/make_fixtures.py smollm2

Outputs under fixtures/gguf/ (each folder under 1 MB):

- blocks/blocks.gguf, blocks/index.json, blocks/expected.f32
    One tensor per ggml type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K),
    shape [4, 512]. Types gguf-py can quantize are quantized from seeded random floats (with a
    zero block and wide-range values); K-quants (gguf-py only dequantizes them) are random block
    bytes with finite f16 scales, which exercises every bit of the layout. blocks.f32 holds the
    float32 values `gguf.quants.dequantize` returns, tensor after tensor; blocks.json gives each
    tensor's name, type, HF shape, element offset and count into it.
- tiny-llama/tiny-llama.gguf, tiny-llama/reference.json
    A random 2-layer Llama (transformers LlamaForCausalLM, hidden 256, 4 heads / 1 kv head,
    untied lm_head) exported to GGUF the way llama.cpp's convert_hf_to_gguf.py lays it out
    (q/k rows permuted for interleaved RoPE, llama.* metadata), each matrix in a different block
    type. reference.json: transformers' logits for the GGUF loaded with
    `AutoModelForCausalLM.from_pretrained(dir, gguf_file=...)` (float32) on fixed input ids.
- tiny-llama3/tiny-llama3.gguf, tiny-llama3/reference.json
    A random 1-layer Llama with "llama3" rope scaling (factor 8, low 1, high 4, original 64,
    head_dim 32: three interpolated frequencies), F16 weights, exported llama.cpp-style: the
    scaling lives only in the `rope_freqs.weight` tensor, computed with convert_hf_to_gguf.py's
    formula. transformers' GGUF loader ignores that tensor, so the reference logits come from the
    HF model itself (weights rounded to f16, i.e. exactly the GGUF's), with its llama3 config.
- smollm2/reference.json
    SmolLM2-135M-Instruct Q4_1 from $LORA_ASSETS_DIR (never copied here): the prompt ids,
    argmax per position and the float32 logits of 256 vocab ids per position, from transformers
    loading the GGUF in float32.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "fixtures" / "gguf"

QUANTIZABLE = [T.F32, T.F16, T.BF16, T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1]
K_TYPES = [T.Q4_K, T.Q5_K, T.Q6_K]
QK_K = 256


def random_k_blocks(rng: np.random.Generator, qtype: T, rows: int, cols: int, scale: float, centered: bool = False) -> np.ndarray:
    """Random bytes of `rows x cols` elements of a K-quant type, with finite, small f16 scales.

    `centered`: dmin = d x mean(q) (Q4_K/Q5_K), so weights have about zero mean, like trained ones.
    """
    block_size, type_size = gguf.GGML_QUANT_SIZES[qtype]
    n_blocks = rows * cols // block_size
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    if qtype in (T.Q4_K, T.Q5_K):
        # d and dmin are the first two f16s
        d = rng.uniform(0.2, 1.0, size=(n_blocks, 2)) * scale
        if centered:
            d[:, 1] = d[:, 0] * (7.5 if qtype == T.Q4_K else 15.5)
        d = d.astype(np.float16)
        blocks[:, 0:4] = d.view(np.uint8).reshape(n_blocks, 4)
    else:  # Q6_K: d is the last f16
        d = (rng.uniform(0.2, 1.0, size=(n_blocks, 1)) * scale).astype(np.float16)
        blocks[:, -2:] = d.view(np.uint8).reshape(n_blocks, 2)
    return blocks.reshape(rows, cols // block_size * type_size)


def quantized(rng: np.random.Generator, qtype: T, values: np.ndarray, k_scale: float, centered: bool = False) -> np.ndarray:
    """Stored form of `values` (float32 [rows, cols]) in `qtype`: gguf-py's quantize, or random K blocks."""
    if qtype in K_TYPES:
        scale = k_scale / 4 if qtype == T.Q6_K else k_scale
        return random_k_blocks(rng, qtype, values.shape[0], values.shape[1], scale, centered)
    return quantize(values, qtype)


def add(writer: gguf.GGUFWriter, name: str, stored: np.ndarray, qtype: T) -> None:
    if qtype in (T.F32, T.F16):
        writer.add_tensor(name, stored)
    else:
        writer.add_tensor(name, stored, raw_dtype=qtype)


def make_blocks() -> None:
    rng = np.random.default_rng(1234)
    rows, cols = 4, 512
    out = OUT / "blocks"
    out.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(out / "blocks.gguf"), "blocks-test")
    writer.add_string("test.note", "one tensor per ggml block type; see tools/parity/gguf/make_fixtures.py")
    writer.add_array("test.strings", ["a", "bc", "d\u00e9f"])  # arrays too, for the reader and the fuzz test
    writer.add_array("test.ints", [1, -2, 3])
    writer.add_uint64("test.u64", 2**60)
    writer.add_float64("test.f64", 0.1)
    writer.add_bool("test.bool", True)
    index = []
    expected = []
    offset = 0
    for qtype in QUANTIZABLE + K_TYPES:
        values = rng.normal(0, 1, size=(rows, cols)).astype(np.float32)
        values[0, :32] = 0.0  # an all-zero block (d = 0)
        values[1, :64] *= 1000.0  # wide range
        values[2, 32:64] = np.linspace(-7, 8, 32, dtype=np.float32)  # exact-ish grid
        if qtype == T.F16:
            values[3, :6] = [6.1e-5, 3.0e-7, -0.0, 65504.0, 1e6, -1e6]  # subnormal, -0, max, overflow to inf
        with np.errstate(over="ignore"):  # 1e6 -> inf in F16 on purpose
            stored = quantized(rng, qtype, values, 0.01)
        add(writer, qtype.name, stored, qtype)
        deq = np.asarray(dequantize(stored, qtype), dtype=np.float32).reshape(rows, cols)
        expected.append(deq.ravel())
        index.append({"name": qtype.name, "type": int(qtype), "shape": [rows, cols], "offset": offset, "count": rows * cols})
        offset += rows * cols
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    np.concatenate(expected).astype("<f4").tofile(out / "expected.f32")
    meta = {
        "generator": {"script": "tools/parity/gguf/make_fixtures.py", "gguf": gguf_version(), "numpy": np.__version__},
        "tensors": index,
    }
    (out / "index.json").write_text(json.dumps(meta, indent=1) + "\n")


def gguf_version() -> str:
    from importlib.metadata import version

    return version("gguf")


def permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order for interleaved RoPE: per head, HF rows (j, i) become (i, j)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def make_tiny() -> None:
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(7)
    cfg = LlamaConfig(
        vocab_size=128,
        hidden_size=256,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=1,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
    )
    hf = LlamaForCausalLM(cfg).eval()
    sd = {k: v.detach().float().numpy() for k, v in hf.state_dict().items()}
    rng = np.random.default_rng(99)
    for k in sd:
        if k.endswith("norm.weight"):
            sd[k] = (1 + 0.3 * rng.standard_normal(sd[k].shape)).astype(np.float32)

    # one matrix per block type; K-quant matrices are random blocks with scales giving std ~0.02-0.05
    types = {
        "token_embd": T.Q8_0,
        "output": T.Q6_K,
        0: {"attn_q": T.Q4_K, "attn_k": T.Q5_K, "attn_v": T.Q6_K, "attn_output": T.Q4_0,
            "ffn_gate": T.Q4_1, "ffn_up": T.Q5_0, "ffn_down": T.Q5_1},
        1: {"attn_q": T.Q8_0, "attn_k": T.F16, "attn_v": T.F32, "attn_output": T.BF16,
            "ffn_gate": T.Q6_K, "ffn_up": T.Q4_K, "ffn_down": T.Q5_K},
    }
    hf_names = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
                "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
                "ffn_down": "mlp.down_proj"}

    out = OUT / "tiny-llama"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "tiny-llama.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny-llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_rope_dimension_count(cfg.hidden_size // cfg.num_attention_heads)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(cfg.vocab_size)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)

    def put(name: str, value: np.ndarray, qtype: T) -> None:
        stored = quantized(rng, qtype, value, 1e-4, centered=True) if value.ndim == 2 else value
        add(w, name, stored, qtype if value.ndim == 2 else T.F32)

    put("token_embd.weight", sd["model.embed_tokens.weight"], types["token_embd"])
    for layer in range(cfg.num_hidden_layers):
        p = f"model.layers.{layer}."
        put(f"blk.{layer}.attn_norm.weight", sd[p + "input_layernorm.weight"], T.F32)
        put(f"blk.{layer}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"], T.F32)
        for g, h in hf_names.items():
            value = sd[p + h + ".weight"]
            if g == "attn_q":
                value = permute(value, cfg.num_attention_heads)
            elif g == "attn_k":
                value = permute(value, cfg.num_key_value_heads)
            put(f"blk.{layer}.{g}.weight", np.ascontiguousarray(value), types[layer][g])
    put("output_norm.weight", sd["model.norm.weight"], T.F32)
    put("output.weight", sd["lm_head.weight"], types["output"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    model = AutoModelForCausalLM.from_pretrained(str(out), gguf_file="tiny-llama.gguf", dtype=torch.float32).eval()
    input_ids = [[5, 17, 99, 3, 64, 127, 8, 42, 42, 7, 1, 0]]
    with torch.no_grad():
        logits = model(torch.tensor(input_ids)).logits.float().numpy()
    assert 0.3 < float(logits.std()) < 5, logits.std()
    ref = {
        "generator": {"script": "tools/parity/gguf/make_fixtures.py", "gguf": gguf_version(),
                      "transformers": __import__("transformers").__version__, "torch": torch.__version__,
                      "dtype": "float32"},
        "types": {k: (v.name if isinstance(v, T) else {g: t.name for g, t in v.items()}) for k, v in types.items()},
        "input_ids": input_ids,
        "logits_shape": list(logits.shape),
        "logits": [float(x) for x in logits.ravel()],
    }
    (out / "reference.json").write_text(json.dumps(ref) + "\n")


def make_llama3() -> None:
    import math

    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(11)
    scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
               "original_max_position_embeddings": 64}
    cfg = LlamaConfig(vocab_size=64, hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, head_dim=32, max_position_embeddings=256,
                      rms_norm_eps=1e-5, rope_theta=10000.0, rope_scaling=scaling, tie_word_embeddings=True)
    hf = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            p.copy_(p.half().float())  # the GGUF stores F16: make the HF weights exactly those
    sd = {k: v.detach().numpy() for k, v in hf.state_dict().items()}

    # rope_freqs.weight as llama.cpp's converter computes it (float32 torch arithmetic)
    dim, base = 32, 10000.0
    freqs = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    old = scaling["original_max_position_embeddings"]
    low_wl, high_wl = old / scaling["low_freq_factor"], old / scaling["high_freq_factor"]
    factors = []
    for freq in freqs:
        wavelen = 2 * math.pi / freq
        if wavelen < high_wl:
            factors.append(1.0)
        elif wavelen > low_wl:
            factors.append(scaling["factor"])
        else:
            smooth = (old / wavelen - scaling["low_freq_factor"]) / (scaling["high_freq_factor"] - scaling["low_freq_factor"])
            factors.append(float(1 / ((1 - smooth) / scaling["factor"] + smooth)))
    rope_freqs = np.array(factors, dtype=np.float32)
    assert sum(1.0 < x < 8.0 for x in factors) >= 2, factors

    out = OUT / "tiny-llama3"
    out.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(str(out / "tiny-llama3.gguf"), "llama")
    w.add_context_length(cfg.max_position_embeddings)
    w.add_embedding_length(cfg.hidden_size)
    w.add_block_count(cfg.num_hidden_layers)
    w.add_feed_forward_length(cfg.intermediate_size)
    w.add_rope_dimension_count(dim)
    w.add_head_count(cfg.num_attention_heads)
    w.add_head_count_kv(cfg.num_key_value_heads)
    w.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    w.add_rope_freq_base(base)
    w.add_vocab_size(cfg.vocab_size)
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"].astype(np.float16))
    w.add_tensor("rope_freqs.weight", rope_freqs)
    p = "model.layers.0."
    w.add_tensor("blk.0.attn_norm.weight", sd[p + "input_layernorm.weight"])
    w.add_tensor("blk.0.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
    names = {"attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj", "attn_v": "self_attn.v_proj",
             "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj",
             "ffn_down": "mlp.down_proj"}
    for g, h in names.items():
        value = sd[p + h + ".weight"]
        if g == "attn_q":
            value = permute(value, cfg.num_attention_heads)
        elif g == "attn_k":
            value = permute(value, cfg.num_key_value_heads)
        w.add_tensor(f"blk.0.{g}.weight", np.ascontiguousarray(value).astype(np.float16))
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    input_ids = [[(i * 7 + 3) % 64 for i in range(40)]]
    with torch.no_grad():
        logits = hf(torch.tensor(input_ids)).logits.float().numpy()
    ref = {
        "generator": {"script": "tools/parity/gguf/make_fixtures.py", "gguf": gguf_version(),
                      "transformers": __import__("transformers").__version__, "torch": torch.__version__,
                      "dtype": "float32", "reference": "LlamaForCausalLM with the llama3 config (not the GGUF loader)"},
        "rope_scaling": scaling,
        "rope_freqs": [float(x) for x in rope_freqs],
        "input_ids": input_ids,
        "logits_shape": list(logits.shape),
        "logits": [float(x) for x in logits.ravel()],
    }
    (out / "reference.json").write_text(json.dumps(ref) + "\n")


def make_smollm2() -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assets = os.environ.get("LORA_ASSETS_DIR")
    assert assets, "set LORA_ASSETS_DIR (the folder with models/SmolLM2-135M-Instruct)"
    folder = Path(assets) / "models" / "SmolLM2-135M-Instruct"
    name = "SmolLM2-135M-Instruct.Q4_1.gguf"
    tok = AutoTokenizer.from_pretrained(str(folder), gguf_file=name)
    prompt = "The capital of France is"
    ids = tok(prompt, add_special_tokens=False)["input_ids"]
    model = AutoModelForCausalLM.from_pretrained(str(folder), gguf_file=name, dtype=torch.float32).eval()
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].float().numpy()
    rng = np.random.default_rng(5)
    top = set(int(i) for row in logits for i in np.argsort(-row)[:16])
    rest = [int(i) for i in rng.permutation(logits.shape[1]) if int(i) not in top]
    chosen = sorted(top | set(rest[: 256 - len(top)]))
    ref = {
        "generator": {"script": "tools/parity/gguf/make_fixtures.py", "gguf": gguf_version(),
                      "transformers": __import__("transformers").__version__, "torch": torch.__version__,
                      "dtype": "float32", "file": f"models/SmolLM2-135M-Instruct/{name}"},
        "prompt": prompt,
        "input_ids": ids,
        "argmax": [int(i) for i in logits.argmax(-1)],
        "vocab_ids": chosen,
        "logits": [[float(row[i]) for i in chosen] for row in logits],
    }
    (OUT / "smollm2").mkdir(parents=True, exist_ok=True)
    (OUT / "smollm2" / "reference.json").write_text(json.dumps(ref) + "\n")


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    targets = sys.argv[1:] or ["blocks", "tiny", "llama3", "smollm2"]
    for target in targets:
        {"blocks": make_blocks, "tiny": make_tiny, "llama3": make_llama3, "smollm2": make_smollm2}[target]()
        print("wrote", target)
