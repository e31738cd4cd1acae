"""PEFT LoRA / rsLoRA / DoRA adapters (with modules_to_save and trainable_token_indices) on the tiny fixture models, with golden logits, for @lora/peft.

Regenerate (from the repository root, with the parity venv described in tools/parity/README.md):

    /opt/parity/bin/python tools/parity/peft/make_peft.py             # PEFT-written cases (fixtures/peft/<case>/)
    /opt/parity/bin/python tools/parity/peft/make_peft.py from-lora   # logits for the adapters @lora wrote

Direction 1 (PEFT -> @lora): for each case in CASES, wrap fixtures/tiny-llama or fixtures/tiny-qwen3
(written by tools/parity/make_models.py) with peft.get_peft_model, set lora_A / lora_B (and the DoRA
magnitude) to random non-zero values, save_pretrained into fixtures/peft/<case>/ and write
reference.json: input_ids, the adapter model's logits, and PEFT's merged logits (merge_and_unload).

Direction 2 (@lora -> PEFT): fixtures/peft/from-lora/<case>/ holds adapter_config.json and
adapter_model.safetensors written by packages/peft/src/parity.test.ts (LORA_WRITE_FIXTURES=1). This
script loads each with PeftModel.from_pretrained on the matching tiny model and writes PEFT's logits
to reference.json there. The TS test then checks its own logits against them, and that re-serialising
the adapter reproduces the committed bytes, so CI verifies the chain without Python.

Deterministic: torch.manual_seed per case, float32, CPU, attn_implementation="eager".
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import peft
import torch
import transformers
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "fixtures"
OUT = FIXTURES / "peft"

# name -> (base folder, LoraConfig kwargs, seed)
CASES: dict[str, tuple[str, dict, int]] = {
    "llama-lora": ("tiny-llama", dict(r=8, lora_alpha=16), 1),
    "llama-rslora-all-linear": (
        "tiny-llama",
        dict(
            r=8,
            lora_alpha=8,
            use_rslora=True,
            target_modules="all-linear",
            rank_pattern={r"layers\.1\.mlp\.down_proj": 4, "gate_proj": 2},
            alpha_pattern={"o_proj": 32},
        ),
        2,
    ),
    "llama-dora-layers": (
        "tiny-llama",
        dict(
            r=4,
            lora_alpha=8,
            use_dora=True,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            layers_to_transform=[0, 2],
            layers_pattern="layers",
            exclude_modules=["k_proj"],
        ),
        3,
    ),
    "qwen3-lora-regex": ("tiny-qwen3", dict(r=4, lora_alpha=12, target_modules=r".*\.(q|k|v|o)_proj"), 4),
    "qwen3-dora-rslora": (
        "tiny-qwen3",
        dict(r=8, lora_alpha=16, use_dora=True, use_rslora=True, target_modules="all-linear"),
        5,
    ),
    # Full trainable copies of both ends of an untied model.
    "llama-modules-to-save": (
        "tiny-llama",
        dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], modules_to_save=["lm_head", "embed_tokens"]),
        6,
    ),
    # A copy of a tied embedding only: the head keeps the original weight (PEFT unties them).
    "qwen3-modules-to-save-embed": (
        "tiny-qwen3",
        dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], modules_to_save=["embed_tokens"]),
        7,
    ),
    # Trainable rows of a tied embedding (list form): the head's logits of those tokens follow.
    # Ids 139, 22, 203 and 137 occur in the inputs; 7 does not (it shows in the logits only).
    "qwen3-trainable-tokens": (
        "tiny-qwen3",
        dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], trainable_token_indices=[139, 22, 7, 203, 137]),
        8,
    ),
    # Dict form on Gemma 3 (tied, embeddings scaled by sqrt(hidden)).
    "gemma3-trainable-tokens-dict": (
        "tiny-gemma3",
        dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], trainable_token_indices={"embed_tokens": [153, 89, 20, 250]}),
        9,
    ),
}

# from-lora case -> base folder
FROM_LORA: dict[str, str] = {
    "llama-lora": "tiny-llama",
    "qwen3-dora": "tiny-qwen3",
    "llama-modules-to-save": "tiny-llama",
    "qwen3-trainable-tokens": "tiny-qwen3",
}


def input_ids(base: str) -> list[list[int]]:
    """The first 8 ids of the two rows of the base model's own reference."""
    ref = json.loads((FIXTURES / base / "reference.json").read_text())
    return [row[:8] for row in ref["input_ids"]]


def load_base(base: str):
    model = AutoModelForCausalLM.from_pretrained(FIXTURES / base, dtype=torch.float32, attn_implementation="eager")
    model.eval()
    return model


def logits_of(model, ids: list[list[int]]) -> torch.Tensor:
    with torch.no_grad():
        return model(torch.tensor(ids)).logits.float()


def flat(t: torch.Tensor) -> list[float]:
    return [float(x) for x in t.reshape(-1).tolist()]


def randomise(model, seed: int) -> None:
    """lora_A, lora_B ~ N(0, 0.2^2); DoRA magnitude *= U(0.5, 1.5); modules_to_save copies and
    trainable token rows += N(0, 0.2^2): every adapter tensor differs from its initial value."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".lora_A." in name or ".lora_B." in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
        for name, param in model.named_parameters():
            if "lora_magnitude_vector" in name:
                param.mul_(0.5 + torch.rand(param.shape, generator=gen))
        for name, param in model.named_parameters():
            if ".modules_to_save." in name or "trainable_tokens_delta" in name:
                param.add_(torch.randn(param.shape, generator=gen) * 0.2)


def make_case(name: str, base: str, kwargs: dict, seed: int) -> None:
    torch.manual_seed(seed)
    ids = input_ids(base)
    model = load_base(base)
    base_logits = logits_of(model, ids)
    pm = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **kwargs))
    randomise(pm, seed)
    pm.eval()
    logits = logits_of(pm, ids)
    assert (logits - base_logits).abs().max() > 1e-2, f"{name}: adapter changes nothing"
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    pm.peft_config["default"].base_model_name_or_path = f"fixtures/{base}"  # not this machine's absolute path
    pm.save_pretrained(out)
    (out / "README.md").unlink(missing_ok=True)
    # Reload through from_pretrained: the saved files alone reproduce the logits.
    again = PeftModel.from_pretrained(load_base(base), out)
    assert torch.allclose(logits_of(again, ids), logits, rtol=0, atol=1e-6), f"{name}: reload differs"
    merged = pm.merge_and_unload()
    merged_logits = logits_of(merged, ids)
    ref = {
        "generator": generator(),
        "base": base,
        "input_ids": ids,
        "logits_shape": list(logits.shape),
        "logits": flat(logits),
        "merged_logits_max_abs_diff": float((merged_logits - logits).abs().max()),
        "base_logits_max_abs_diff": float((base_logits - logits).abs().max()),
    }
    (out / "reference.json").write_text(json.dumps(ref))
    print(f"{name}: {sum(p.stat().st_size for p in out.iterdir())} bytes, merged diff {ref['merged_logits_max_abs_diff']:.2e}")


def from_lora(name: str, base: str) -> None:
    folder = OUT / "from-lora" / name
    ids = input_ids(base)
    model = PeftModel.from_pretrained(load_base(base), folder)
    model.eval()
    logits = logits_of(model, ids)
    base_logits = logits_of(load_base(base), ids)
    assert (logits - base_logits).abs().max() > 1e-2, f"{name}: adapter changes nothing"
    ref = {"generator": generator(), "base": base, "input_ids": ids, "logits_shape": list(logits.shape), "logits": flat(logits)}
    (folder / "reference.json").write_text(json.dumps(ref))
    print(f"from-lora/{name}: PEFT logits written")


def generator() -> dict:
    return {
        "script": "tools/parity/peft/make_peft.py",
        "peft": peft.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
    }


def main(argv: list[str]) -> None:
    if argv[:1] == ["from-lora"]:
        for name, base in FROM_LORA.items():
            from_lora(name, base)
        return
    for name, (base, kwargs, seed) in CASES.items():
        if argv and name not in argv:
            continue
        make_case(name, base, kwargs, seed)


if __name__ == "__main__":
    main(sys.argv[1:])
