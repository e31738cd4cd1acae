"""Reference fixtures for @lora/models safetensors IO (packages/models/src/io/*.test.ts).

Written with the real `safetensors` Python package (Rust serializer) and torch/numpy, so the
TypeScript reader and writer are checked against the reference implementation, byte for byte.

Regenerate (from the repository root):

    /opt/parity/bin/python tools/parity/make_safetensors.py

Outputs, all under fixtures/safetensors/ (each well under 1 MB):

- dtypes.safetensors      one tensor per supported dtype; F16/BF16 values exercise rounding ties,
                          subnormals, overflow, +-inf, nan and -0; F8 tensors hold all 256 codes.
- metadata.safetensors    a single-key `__metadata__` (byte-exact reproducible) and tensor names
                          whose UTF-8 order differs from their UTF-16 order.
- multi_metadata.safetensors  several `__metadata__` keys (their order in the file is random in the
                          Rust serializer, so only the parsed header is comparable).
- int_overflow.safetensors  integers that do not fit int32 (decoding must fail; raw reads work).
- sharded/                a checkpoint split by huggingface_hub.save_torch_state_dict, with
                          model.safetensors.index.json.
- corrupt/*.safetensors   valid files mutated one way each; every one is rejected by safetensors.
- fixtures.json           for each file: the exact writer inputs (float32 bit patterns, ints, raw
                          bytes as hex), the expected decoded values (float32 bit patterns computed
                          by torch/numpy) and, for corrupt files, the expected error.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import torch
from huggingface_hub import save_torch_state_dict
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "fixtures" / "safetensors"
RNG = np.random.default_rng(1234)

# Float32 sources for F16/BF16/F32: specials, ties, overflow and subnormal boundaries.
F32_SPECIAL_BITS = [
    0x00000000, 0x80000000,  # +-0
    0x7F800000, 0xFF800000,  # +-inf
    0x7FC00000, 0xFFC00000,  # +-nan
    0x00000001, 0x807FFFFF,  # f32 subnormals
    0x3F800000, 0xBF800000,  # +-1
    0x3F808000, 0x3F818000, 0x3F80C000, 0x3F804000, 0x3F808001, 0x3F807FFF,  # BF16 ties / near-ties
    0x3F801000, 0x3F803000, 0x3F801001, 0x3F800FFF,  # F16 ties / near-ties (mantissa bit 13)
    0x477FE000, 0x477FEFFF, 0x477FF000, 0x477FF001, 0x47800000,  # 65504, just below/at/above the F16 overflow tie
    0x7F7FFFFF, 0x7F7F8000, 0x7F7F7FFF,  # f32 max; BF16 overflow tie
    0x33800000, 0x33000000, 0x33000001, 0x33C00000, 0x34000000,  # around the smallest F16 subnormal 2^-24
    0x387FC000, 0x38800000, 0x387FE000, 0x387FF000,  # around the smallest F16 normal 2^-14
    0x00010000, 0x00008000, 0x00018000, 0x00800000, 0x007F8000, 0x007FFFFF,  # BF16 subnormals / boundaries
    0x35800000, 0x35400000, 0x35200000,  # F16 subnormal ties (2^-20 multiples)
]


def f32_from_bits(bits: list[int]) -> np.ndarray:
    return np.array(bits, dtype=np.uint32).view(np.float32)


def f32_sources() -> np.ndarray:
    random = RNG.standard_normal(40).astype(np.float32) * np.float32(3.0)
    tiny = (RNG.standard_normal(8) * 1e-6).astype(np.float32)
    return np.concatenate([f32_from_bits(F32_SPECIAL_BITS), random, tiny])


def f64_to_f32_bits(a: np.ndarray) -> list[int]:
    """numpy's float64 -> float32 cast (round to nearest even, overflow to inf)."""
    with np.errstate(over="ignore"):
        return a.astype(np.float32).view(np.uint32).tolist()


def bits32(t: torch.Tensor) -> list[int]:
    """Exact float32 bit patterns of a tensor widened to float32 by torch."""
    return t.to(torch.float32).contiguous().view(torch.int32).numpy().view(np.uint32).ravel().tolist()


def hexbytes(t: torch.Tensor) -> str:
    return t.contiguous().view(torch.uint8).numpy().tobytes().hex() if t.numel() else ""


def build_dtypes() -> tuple[dict[str, torch.Tensor], dict]:
    """One tensor per dtype, with the writer input and the expected decoding of each."""
    src = f32_sources()
    n = src.size
    tensors: dict[str, torch.Tensor] = {}
    spec: dict[str, dict] = {}

    def add(name: str, t: torch.Tensor, inp: dict, expected: dict) -> None:
        tensors[name] = t
        spec[name] = {"shape": list(t.shape), "input": inp, "expected": expected}

    f32 = torch.from_numpy(src.copy())
    src_bits = src.view(np.uint32).tolist()
    add("float.f32", f32.reshape(n // 2, 2), {"kind": "f32bits", "values": src_bits},
        {"dtype": "float32", "bits": bits32(f32)})
    for name, dt in [("float.f16", torch.float16), ("float.bf16", torch.bfloat16)]:
        t = f32.to(dt)
        add(name, t, {"kind": "f32bits", "values": src_bits}, {"dtype": "float32", "bits": bits32(t)})

    f64 = np.concatenate([
        src.astype(np.float64),
        np.array([1e300, -1e300, 1e-300, 5e-324, np.pi, 1 / 3, 1 + 2.0**-24, 1 + 3 * 2.0**-25, 3.4028235677973366e38]),
        RNG.standard_normal(16),
    ])
    add("float.f64", torch.from_numpy(f64), {"kind": "f64hex", "hex": f64.astype("<f8").tobytes().hex()},
        {"dtype": "float32", "bits": f64_to_f32_bits(f64)})

    codes = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    for name, dt in [("float.f8_e4m3", torch.float8_e4m3fn), ("float.f8_e5m2", torch.float8_e5m2)]:
        t = codes.clone().view(dt).reshape(16, 16)
        add(name, t, {"kind": "raw", "hex": hexbytes(t)}, {"dtype": "float32", "bits": bits32(t)})

    int_cases = [
        ("int.i64", torch.int64, [-(2**31), 2**31 - 1, 0, -1, 123456789]),
        ("int.i32", torch.int32, [-(2**31), 2**31 - 1, 0, -1, 7]),
        ("int.i16", torch.int16, [-(2**15), 2**15 - 1, 0, -1, 300]),
        ("int.i8", torch.int8, [-128, 127, 0, -1, 5]),
        ("int.u64", torch.uint64, [0, 1, 2**31 - 1, 65536]),
        ("int.u32", torch.uint32, [0, 1, 2**31 - 1, 65536]),
        ("int.u16", torch.uint16, [0, 1, 65535, 256]),
        ("int.u8", torch.uint8, [0, 1, 255, 128, 15, 240]),
    ]
    for name, dt, fixed in int_cases:
        info = torch.iinfo(dt) if dt not in (torch.uint64, torch.uint32) else None
        lo = max(info.min, -(2**31)) if info else 0
        hi = min(info.max, 2**31 - 1) if info else 2**31 - 1
        values = fixed + RNG.integers(lo, hi, size=7, endpoint=True).tolist()
        t = torch.tensor(values, dtype=torch.int64).to(dt)
        add(name, t, {"kind": "int", "values": values}, {"dtype": "int32", "values": values})

    b = [True, False, False, True, True, False, True]
    add("bool", torch.tensor(b), {"kind": "int", "values": [int(x) for x in b]},
        {"dtype": "bool", "values": [int(x) for x in b]})

    add("shape.scalar", torch.tensor(2.5, dtype=torch.float32), {"kind": "f32bits", "values": [0x40200000]},
        {"dtype": "float32", "bits": [0x40200000]})
    add("shape.empty", torch.zeros(0, 3, dtype=torch.float32), {"kind": "f32bits", "values": []},
        {"dtype": "float32", "bits": []})
    m = RNG.standard_normal((2, 3, 4)).astype(np.float32)
    add("shape.rank3", torch.from_numpy(m), {"kind": "f32bits", "values": m.view(np.uint32).ravel().tolist()},
        {"dtype": "float32", "bits": m.view(np.uint32).ravel().tolist()})
    return tensors, spec


def dtype_names(path: Path) -> dict[str, str]:
    header_len = struct.unpack("<Q", path.read_bytes()[:8])[0]
    header = json.loads(path.read_bytes()[8 : 8 + header_len])
    return {k: v["dtype"] for k, v in header.items() if k != "__metadata__"}


def write_case(cases: dict, name: str, tensors: dict[str, torch.Tensor], spec: dict, metadata=None) -> Path:
    path = OUT / name
    save_file(tensors, str(path), metadata=metadata)
    dtypes = dtype_names(path)
    for key in spec:
        spec[key]["dtype"] = dtypes[key]
    loaded = load_file(str(path))  # the reference reader accepts what we wrote
    assert set(loaded) == set(tensors)
    cases[name] = {"metadata": metadata, "byteExact": metadata is None or len(metadata) <= 1, "tensors": spec}
    return path


def float_spec(t: torch.Tensor) -> dict:
    a = t.to(torch.float32).numpy()
    return {"shape": list(t.shape), "input": {"kind": "f32bits", "values": a.view(np.uint32).ravel().tolist()},
            "expected": {"dtype": "float32", "bits": bits32(t)}}


def build_metadata_case(cases: dict) -> None:
    names = ["b", "a", "é", "\U0001F600", "\uFFFD", "layer.10", "layer.9", 'quote"back\\slash', "new\nline", "Z"]
    tensors: dict[str, torch.Tensor] = {}
    spec: dict[str, dict] = {}
    for i, name in enumerate(names):
        # Mostly one dtype, so the name order (UTF-8 bytes: U+FFFD before U+1F600) decides.
        dt = {"a": torch.bfloat16, "layer.9": torch.float16}.get(name, torch.float32)
        t = torch.from_numpy(RNG.standard_normal((i % 3) + 1).astype(np.float32)).to(dt)
        tensors[name] = t
        spec[name] = float_spec(t)
    write_case(cases, "metadata.safetensors", tensors, spec, metadata={"format": "pt"})

    tensors2 = {"w": torch.ones(2, 2, dtype=torch.float32)}
    write_case(cases, "multi_metadata.safetensors", tensors2, {"w": float_spec(tensors2["w"])},
               metadata={"format": "pt", "note": "ünïcode \"quoted\"", "empty": ""})


def build_overflow(cases: dict) -> None:
    tensors = {
        "i64_big": torch.tensor([1, 2**31], dtype=torch.int64),
        "i64_small": torch.tensor([-(2**31) - 1], dtype=torch.int64),
        "u32_big": torch.tensor([2**31], dtype=torch.uint32),
        "u64_big": torch.tensor([2**63 + 1], dtype=torch.uint64),
    }
    path = OUT / "int_overflow.safetensors"
    save_file(tensors, str(path))
    dtypes = dtype_names(path)
    cases["int_overflow.safetensors"] = {
        "metadata": None,
        "byteExact": True,
        "tensors": {k: {"dtype": dtypes[k], "shape": list(t.shape), "input": {"kind": "raw", "hex": hexbytes(t)},
                        "expected": {"dtype": "error"}} for k, t in tensors.items()},
    }


def build_sharded(cases: dict) -> None:
    directory = OUT / "sharded"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    state = {
        f"model.layers.{i}.{p}.weight": torch.from_numpy(RNG.standard_normal((8, 16)).astype(np.float32))
        for i in range(3) for p in ("q_proj", "v_proj")
    }
    state["model.embed_tokens.weight"] = torch.from_numpy(RNG.standard_normal((10, 16)).astype(np.float32)).to(torch.bfloat16)
    save_torch_state_dict(state, directory, max_shard_size=1500)
    index = json.loads((directory / "model.safetensors.index.json").read_text())
    assert len(set(index["weight_map"].values())) >= 2, "fixture must have several shards"
    cases["sharded"] = {
        "index": "model.safetensors.index.json",
        "tensors": {k: {"shape": list(t.shape), "expected": {"dtype": "float32", "bits": bits32(t)}} for k, t in state.items()},
    }


def build_corrupt(cases: dict) -> None:
    """Valid file mutated one way per case; each must be rejected by the reference reader too."""
    directory = OUT / "corrupt"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    base = {"alpha": torch.ones(2, 3, dtype=torch.float32), "beta": torch.arange(4, dtype=torch.int64),
            "gamma": torch.ones(3, dtype=torch.bfloat16)}
    good = directory / "_valid.bin"
    save_file(base, str(good))
    raw = good.read_bytes()
    good.unlink()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]

    def with_header(h: dict | bytes, body: bytes = data) -> bytes:
        text = h if isinstance(h, bytes) else json.dumps(h, separators=(",", ":")).encode()
        text += b" " * (-len(text) % 8)
        return struct.pack("<Q", len(text)) + text + body

    def mutate(tensor: str, **changes) -> dict:
        h = json.loads(json.dumps(header))
        h[tensor].update(changes)
        return h

    corrupt = {
        "too_small.safetensors": (raw[:5], None, "header length"),
        "header_too_large.safetensors": (struct.pack("<Q", 100_000_001) + raw[8:], None, "too large"),
        "header_past_eof.safetensors": (struct.pack("<Q", len(raw)) + raw[8:], None, "past the end"),
        "bad_json.safetensors": (raw[:8] + b"x" + raw[9:], None, "JSON"),
        "bad_utf8.safetensors": (with_header(json.dumps(header).encode().replace(b'"alpha"', b'"al\xffa"')), None, "UTF-8"),
        "unknown_dtype.safetensors": (with_header(mutate("alpha", dtype="F33")), "alpha", "dtype"),
        "negative_shape.safetensors": (with_header(mutate("beta", shape=[-4])), "beta", "shape"),
        "fractional_shape.safetensors": (with_header(mutate("beta", shape=[2.5])), "beta", "shape"),
        "size_mismatch.safetensors": (with_header(mutate("gamma", shape=[4])), "gamma", "bytes"),
        "gap.safetensors": (with_header(mutate("gamma", data_offsets=[header["gamma"]["data_offsets"][0] + 2,
                                                                      header["gamma"]["data_offsets"][1] + 2])) + b"\0\0",
                            "gamma", "offset"),
        "overlap.safetensors": (with_header(mutate("alpha", data_offsets=[header["alpha"]["data_offsets"][0] - 8,
                                                                          header["alpha"]["data_offsets"][1] - 8])),
                                "alpha", "offset"),
        "truncated.safetensors": (raw[:-3], "gamma", "file"),
        "trailing_bytes.safetensors": (raw + b"\0" * 8, "gamma", "file"),
        "bad_metadata.safetensors": (with_header({"__metadata__": {"format": 1}, **header}), "__metadata__", "string"),
        "missing_offsets.safetensors": (with_header({**header, "beta": {"dtype": "I64", "shape": [4]}}), "beta", "data_offsets"),
    }
    spec = {}
    for name, (content, tensor, message) in corrupt.items():
        path = directory / name
        path.write_bytes(content)
        try:
            with safe_open(str(path), framework="pt") as f:
                for k in f.keys():
                    f.get_tensor(k)
        except Exception as error:  # the reference reader rejects it: record why
            spec[name] = {"tensor": tensor, "message": message, "reference": str(error)[:200]}
        else:
            raise AssertionError(f"safetensors accepted corrupt fixture {name}")
    cases["corrupt"] = spec


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cases: dict = {}
    tensors, spec = build_dtypes()
    write_case(cases, "dtypes.safetensors", tensors, spec)
    build_metadata_case(cases)
    build_overflow(cases)
    build_sharded(cases)
    build_corrupt(cases)
    cases["_generator"] = {
        "script": "tools/parity/make_safetensors.py",
        "safetensors": __import__("safetensors").__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
    }
    (OUT / "fixtures.json").write_text(json.dumps(cases, indent=1, ensure_ascii=False) + "\n")
    for p in sorted(OUT.rglob("*")):
        if p.is_file():
            print(f"{p.relative_to(ROOT)}  {p.stat().st_size} B")


if __name__ == "__main__":
    main()
