"""Golden fixtures for @lora/quant from bitsandbytes' CPU backend (and transformers' bnb 4-bit save).

Regenerate (from the repository root, with the parity venv of tools/parity/README.md):

    /opt/parity/bin/python tools/parity/quant/make_quant.py

Writes, under fixtures/quant/:
    blockwise.safetensors  per shape `<shape>.input` (F32); per case `<case>.<key>` for every tensor of
                           QuantState.as_dict(packed=True) (`packed` U8 [(n+1)//2, 1], `absmax`,
                           `quant_map`, `nested_absmax`, `nested_quant_map`, `quant_state` = the JSON
                           bytes) and `<case>.dequant` (dequantize_4bit, F32, input shape);
                           `code.nf4`, `code.fp4` (get_4bit_type), `code.dynamic` (create_dynamic_map);
                           `mean.<n>.input` / `mean.<n>.value` (torch float32 mean, the DQ offset);
                           per 8-bit case `q8.<id>.input` (F32), `.codes` (U8), `.absmax` (F32): F.quantize_blockwise
                           with the signed dynamic map (the double-quant path), on inputs that stress its
                           65536-bin lookup table: exact float32 code midpoints ± 1 ulp, lookup-bin edges,
                           values near -1, many blocks with a partial last one and an all-zero block
    cases.json             the case list: name, shape id, shape, quant_type, blocksize, compress_statistics;
                           `q8Cases`: id, n, blocksize
    tiny-llama-nf4/        fixtures/tiny-llama loaded by transformers with BitsAndBytesConfig(load_in_4bit,
                           nf4, double quant, compute fp32) on CPU and save_pretrained'ed (config.json with
                           quantization_config, model.safetensors with the bnb keys), plus reference.safetensors:
                           input_ids (I32 [2,16], from fixtures/tiny-llama/reference.json) and logits
                           (F32 [2,16,V]) of the fp32 model whose linears are replaced by
                           dequantize_4bit of the saved tensors (bnb's CPU forward computes in bf16).

Everything is deterministic (fixed seeds, CPU). nested_offset is torch's float32 mean, whose
summation order depends on the CPU's vector width (this machine: AVX512) for > 16 absmax values.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

import bitsandbytes
import bitsandbytes.functional as F
import numpy as np
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import BitsAndBytesConfig, LlamaForCausalLM

REPO_ROOT = Path(__file__).resolve().parents[3]
OUT = REPO_ROOT / "fixtures" / "quant"
TINY_LLAMA = REPO_ROOT / "fixtures" / "tiny-llama"
MAX_BYTES = 1_000_000

# (id, shape, blocksizes): numel odd, remainders, > 256 blocks (two nested blocks), blocksize 4096.
SHAPES = [
    ("s32x64", [32, 64], [64]),
    ("s33x17", [33, 17], [64]),
    ("s7", [7], [32]),
    ("s48x40", [48, 40], [128, 256]),
    ("s100x90", [100, 90], [32]),
    ("s24x190", [24, 190], [4096]),
    ("s16x288", [16, 288], [32]),  # 144 blocks, rows scaled 1e-3..10: absmax spread over the dynamic map
]
MEAN_LENGTHS = [3, 17, 63, 100, 282, 1000, 5000, 12000]


def make_input(shape: list[int], seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    n = 1
    for d in shape:
        n *= d
    x = torch.randn(n, generator=g) * (0.02 + torch.rand(n, generator=g) * 2)
    if len(shape) == 2 and shape[0] == 16:
        x = (x.reshape(shape) * torch.logspace(-3, 1, shape[0]).reshape(-1, 1)).reshape(n)
    # Exact zeros, a repeated value and one all-zero block (absmax 0) when the tensor is long enough.
    x[::11] = 0.0
    x[5::13] = 0.125
    if n >= 256:
        x[64:96] = 0.0
    return x.reshape(shape).contiguous()


def q8_inputs() -> list[tuple[str, torch.Tensor, int]]:
    """Inputs for the 8-bit blockwise quantizer (id, flat float32 tensor, blocksize)."""
    code = F.create_dynamic_map().numpy().astype(np.float32)
    mids = ((code[:-1] + code[1:]) * np.float32(0.5)).astype(np.float32)
    up = np.nextafter(mids, np.float32(2))
    down = np.nextafter(mids, np.float32(-2))
    near = np.concatenate([mids, up, down, code, np.nextafter(code, np.float32(2)), np.nextafter(code, np.float32(-2))])
    # Every block of 256 starts with 1.0 so absmax = 1 and x·(1/absmax) = x exactly.
    def with_unit_absmax(v: np.ndarray) -> np.ndarray:
        v = np.clip(v, -1, 1).astype(np.float32)
        blocks = [np.concatenate([[np.float32(1)], v[i : i + 255]]) for i in range(0, len(v), 255)]
        return np.concatenate(blocks).astype(np.float32)

    # Lookup-bin edges: bin k starts where (v+1)*0.5*65535 + 0.5 reaches k.
    rng = np.random.default_rng(7)
    k = np.concatenate([np.arange(0, 65536, 199), rng.integers(0, 65536, 200), [0, 1, 2, 32767, 32768, 65534, 65535]])
    edge = (np.float32(2) * (k.astype(np.float32) - np.float32(0.5)) / np.float32(65535) - np.float32(1)).astype(np.float32)
    edges = np.concatenate([edge, np.nextafter(edge, np.float32(2)), np.nextafter(edge, np.float32(-2)),
                            np.nextafter(np.nextafter(edge, np.float32(2)), np.float32(2))])
    # Near -1 (and +1): the first code is -0.99297, the bins there are 2/65535 wide.
    ulp = np.float32(2.0**-24)
    ends = np.concatenate([-1 + ulp * np.arange(0, 64, dtype=np.float32), np.linspace(-1, code[1], 200, dtype=np.float32),
                           1 - ulp * np.arange(0, 32, dtype=np.float32) / 2, np.linspace(code[-2], 1, 100, dtype=np.float32)])
    # Many blocks: random absmax-like values minus their mean (the double-quant input), a partial last
    # block, an all-zero block, and blocks whose absmax is not 1 (so x·(1/absmax) rounds).
    g = torch.Generator().manual_seed(99)
    many = torch.rand(256 * 11 + 77, generator=g) * torch.logspace(-4, 0, 256 * 11 + 77)
    many = many - many.mean()
    many[256 * 3 : 256 * 4] = 0.0
    scaled = torch.from_numpy(np.concatenate([near * np.float32(0.37), edges[::2] * np.float32(3.1)]).astype(np.float32))
    return [
        ("midpoints", torch.from_numpy(with_unit_absmax(near)), 256),
        ("bin_edges", torch.from_numpy(with_unit_absmax(edges)), 256),
        ("ends", torch.from_numpy(with_unit_absmax(ends)), 256),
        ("many", many.float(), 256),
        ("scaled", scaled, 256),
        ("many_b64", many.float()[:1000].clone(), 64),
    ]


def blockwise8(tensors: dict[str, torch.Tensor]) -> list[dict]:
    cases = []
    for qid, x, blocksize in q8_inputs():
        codes, state = F.quantize_blockwise(x, blocksize=blocksize)
        assert torch.equal(state.code, F.create_dynamic_map())
        tensors[f"q8.{qid}.input"] = x
        tensors[f"q8.{qid}.codes"] = codes
        tensors[f"q8.{qid}.absmax"] = state.absmax
        exact = torch.argmin((x.reshape(-1, 1) / state.absmax.repeat_interleave(blocksize)[: x.numel()].reshape(-1, 1) - state.code).abs(), dim=1)
        off = (exact != codes.long()).sum().item()
        print(f"q8.{qid}: n={x.numel()} blocksize={blocksize}: {off} codes differ from the exact nearest code")
        cases.append({"id": qid, "n": x.numel(), "blocksize": blocksize})
    return cases


def blockwise(tensors: dict[str, torch.Tensor]) -> list[dict]:
    cases = []
    for seed, (sid, shape, blocksizes) in enumerate(SHAPES):
        x = make_input(shape, seed)
        tensors[f"{sid}.input"] = x
        for blocksize in blocksizes:
            for quant_type in ("nf4", "fp4"):
                for dq in (False, True):
                    name = f"{sid}.{quant_type}.b{blocksize}.{'dq' if dq else 'plain'}"
                    packed, state = F.quantize_4bit(
                        x, blocksize=blocksize, compress_statistics=dq, quant_type=quant_type
                    )
                    tensors[f"{name}.packed"] = packed
                    for key, value in state.as_dict(packed=True).items():
                        key = "quant_state" if key.startswith("quant_state.") else key
                        tensors[f"{name}.{key}"] = value
                    tensors[f"{name}.dequant"] = F.dequantize_4bit(packed, state)
                    cases.append(
                        {
                            "name": name,
                            "shapeId": sid,
                            "shape": shape,
                            "quantType": quant_type,
                            "blocksize": blocksize,
                            "compressStatistics": dq,
                        }
                    )
    tensors["code.nf4"] = F.get_4bit_type("nf4", device="cpu")
    tensors["code.fp4"] = F.get_4bit_type("fp4", device="cpu")
    tensors["code.dynamic"] = F.create_dynamic_map()
    g = torch.Generator().manual_seed(1234)
    for n in MEAN_LENGTHS:
        v = torch.rand(n, generator=g) * 3
        tensors[f"mean.{n}.input"] = v
        tensors[f"mean.{n}.value"] = v.mean().reshape(1)
    return cases


def tiny_llama() -> None:
    out = OUT / "tiny-llama-nf4"
    shutil.rmtree(out, ignore_errors=True)
    bnb = BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.float32,
    )
    model = LlamaForCausalLM.from_pretrained(
        TINY_LLAMA, quantization_config=bnb, device_map="cpu", dtype=torch.float32, attn_implementation="eager"
    )
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    for extra in ("generation_config.json",):
        (out / extra).unlink(missing_ok=True)
    ids = json.loads((TINY_LLAMA / "reference.json").read_text())["input_ids"]
    input_ids = torch.tensor(ids, dtype=torch.int64)

    # Reference: the fp32 model with each quantized linear replaced by dequantize_4bit of the tensors
    # as saved (read back from the file). bnb's own CPU forward is not used as the reference: on
    # AVX512-BF16 CPUs it casts activations and absmax to bfloat16 (and repacks the weight in place).
    saved = load_file(out / "model.safetensors")
    dense = LlamaForCausalLM.from_pretrained(TINY_LLAMA, dtype=torch.float32, attn_implementation="eager")
    dense.eval()
    for name, module in model.named_modules():
        if isinstance(module, bitsandbytes.nn.Linear4bit):
            qs = {k[len(name) + len(".weight.") :]: v for k, v in saved.items() if k.startswith(f"{name}.weight.")}
            state = F.QuantState.from_dict(qs, device=torch.device("cpu"))
            w = F.dequantize_4bit(saved[f"{name}.weight"], state).float()
            dense.get_submodule(name).weight.data.copy_(w)
    with torch.no_grad():
        logits = dense(input_ids).logits.float()
        logits_bnb = model(input_ids).logits.float()
    diff = (logits - logits_bnb).abs().max().item()
    print(f"tiny-llama-nf4: bnb CPU forward vs dequantized fp32 forward max |diff| {diff:.3e} (bf16 compute)")
    save_file(
        {"input_ids": input_ids.to(torch.int32), "logits": logits.contiguous()},
        out / "reference.safetensors",
        metadata={
            "generator": "tools/parity/quant/make_quant.py",
            "transformers": transformers.__version__,
            "bitsandbytes": bitsandbytes.__version__,
            "torch": torch.__version__,
            "bnb_cpu_forward_max_abs_diff": f"{diff:.3e}",
        },
    )


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {}
    cases = blockwise(tensors)
    q8_cases = blockwise8(tensors)
    save_file(
        {k: v.contiguous() for k, v in tensors.items()},
        OUT / "blockwise.safetensors",
        metadata={"generator": "tools/parity/quant/make_quant.py", "bitsandbytes": bitsandbytes.__version__},
    )
    (OUT / "cases.json").write_text(
        json.dumps(
            {
                "generator": "tools/parity/quant/make_quant.py",
                "bitsandbytes": bitsandbytes.__version__,
                "torch": torch.__version__,
                "cpuCapability": torch.backends.cpu.get_cpu_capability(),
                "meanLengths": MEAN_LENGTHS,
                "cases": cases,
                "q8Cases": q8_cases,
            },
            indent=1,
        )
        + "\n"
    )
    tiny_llama()
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"fixtures/quant: {len(cases)} cases, {total} bytes")
    if total > MAX_BYTES:
        sys.exit(f"fixtures/quant is {total} bytes > {MAX_BYTES}")


if __name__ == "__main__":
    main()
