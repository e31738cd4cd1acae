"""PEFT adapters with trained biases (`bias`), LoRA on `lm_head` (tied and untied) and LoRA on
`embed_tokens`, written by the real PEFT, with golden logits and PEFT's warnings, for @lora/peft
(packages/peft/src/parity-features.test.ts).

Regenerate (from the repository root, with the parity venv described in tools/parity/README.md):

    /opt/parity/bin/python tools/parity/peft/make_peft_features.py            # PEFT-written cases
    /opt/parity/bin/python tools/parity/peft/make_peft_features.py from-lora  # logits for adapters @lora wrote

Writes fixtures/peft/features/:
- tiny-llama-bias/: a tiny random Llama with `attention_bias` and `mlp_bias` (none of the shared
  tiny models has biases), the base for the `bias` cases.
- <case>/ (direction PEFT -> @lora): get_peft_model on the base, every LoRA tensor (and, when the
  config trains biases, every trainable bias) set to random values, save_pretrained, then
  reference.json: input_ids, the adapter model's logits (PeftModel.from_pretrained on the unchanged
  base also for qwen3-lm-head-tied-rescaled, trained on a rescaled table that loading writes back
  into the base), the warnings PEFT gave when injecting
  (`inject`), saving (`save`) and loading the folder again (`load`), and the merged-vs-adapter
  logit difference (large for a tied lm_head: PEFT merges into the table shared with embed_tokens).
- from-lora/<case>/ (direction @lora -> PEFT): adapter folders written by the TS test
  (LORA_WRITE_FIXTURES=1); this script loads each with PeftModel.from_pretrained and writes PEFT's
  logits and load warnings to reference.json there.

Deterministic: fixed seeds, float32, CPU, attn_implementation="eager", and PYTHONHASHSEED=0 (the
script re-executes itself with it): PEFT keeps `target_modules` in a set, whose order in
adapter_config.json follows Python's string hashing.
"""

from __future__ import annotations

import json
import math
import os
import sys
import warnings
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import LlamaConfig, LlamaForCausalLM

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_peft import FIXTURES, generator, load_base, logits_of, flat  # noqa: E402

OUT = FIXTURES / "peft" / "features"
BIAS_BASE = "peft/features/tiny-llama-bias"

# name -> (base folder under fixtures/, LoraConfig kwargs, seed)
CASES: dict[str, tuple[str, dict, int]] = {
    "llama-bias-all": (BIAS_BASE, dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], bias="all"), 11),
    "llama-bias-lora-only-dora": (
        BIAS_BASE,
        dict(r=4, lora_alpha=8, target_modules=["q_proj", "o_proj", "up_proj"], bias="lora_only", use_dora=True),
        12,
    ),
    "llama-lm-head": ("tiny-llama", dict(r=4, lora_alpha=8, target_modules=["q_proj", "lm_head"]), 13),
    "qwen3-lm-head-tied": ("tiny-qwen3", dict(r=4, lora_alpha=8, target_modules=["v_proj", "lm_head"]), 14),
    "llama-embed": ("tiny-llama", dict(r=4, lora_alpha=8, target_modules=["embed_tokens", "q_proj"]), 15),
    "qwen3-embed-lm-head-tied": ("tiny-qwen3", dict(r=4, lora_alpha=8, target_modules=["embed_tokens", "lm_head"]), 16),
    "gemma3-embed-tied": ("tiny-gemma3", dict(r=4, lora_alpha=8, target_modules=["embed_tokens"], use_rslora=True), 17),
    # Trained on another base (the shared table x 1.5): loading it overwrites the tied table.
    "qwen3-lm-head-tied-rescaled": ("tiny-qwen3", dict(r=4, lora_alpha=8, target_modules=["lm_head"]), 18),
}

# case -> factor applied to the base's input embedding (shared with a tied head) before get_peft_model
RESCALED_BASE: dict[str, float] = {"qwen3-lm-head-tied-rescaled": 1.5}

# from-lora case -> base folder
FROM_LORA: dict[str, str] = {
    "llama-bias-all": BIAS_BASE,
    "llama-lm-head-regex": "tiny-llama",
    "qwen3-lm-head-tied": "tiny-qwen3",
    "llama-embed": "tiny-llama",
    "gemma3-embed-tied": "tiny-gemma3",
}

BIAS_IDS = [[1, 5, 9, 33, 2, 17, 40, 63], [3, 8, 21, 7, 60, 12, 1, 44]]


def input_ids(base: str) -> list[list[int]]:
    ref = FIXTURES / base / "reference.json"
    if ref.exists():
        return [row[:8] for row in json.loads(ref.read_text())["input_ids"]]
    return BIAS_IDS


def make_bias_base() -> None:
    """Tiny Llama with q/k/v/o and MLP biases; weights random as in tools/parity/make_models.py."""
    torch.manual_seed(2024)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=64,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        attention_bias=True,
        mlp_bias=True,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=0,
        attn_implementation="eager",
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.copy_(1.0 + 0.3 * torch.randn_like(param))
            elif "embed" in name:
                param.normal_(0.0, 1.0)
            elif param.ndim == 2:
                param.normal_(0.0, 1.0 / math.sqrt(param.shape[1]))
            else:
                param.normal_(0.0, 0.1)
    out = FIXTURES / BIAS_BASE
    model.save_pretrained(out)
    print(f"{BIAS_BASE}: {sum(p.stat().st_size for p in out.iterdir())} bytes")


def peft_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """PEFT's own warnings (transformers' deprecation notices left out), in order, deduplicated."""
    out: list[str] = []
    for w in caught:
        if "site-packages/peft/" not in w.filename:
            continue
        text = str(w.message)
        if text not in out:
            out.append(text)
    return out


def randomise(model, seed: int) -> None:
    """LoRA tensors ~ N(0, 0.2^2), DoRA magnitude *= U(0.5, 1.5), trainable biases += N(0, 0.1^2)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if ".lora_" in name and "magnitude" not in name:
                param.copy_(torch.randn(param.shape, generator=gen) * 0.2)
            elif "lora_magnitude_vector" in name:
                param.mul_(0.5 + torch.rand(param.shape, generator=gen))
            elif param.requires_grad and name.endswith(".bias"):
                param.add_(torch.randn(param.shape, generator=gen) * 0.1)


def make_case(name: str, base: str, kwargs: dict, seed: int) -> None:
    torch.manual_seed(seed)
    ids = input_ids(base)
    model = load_base(base)
    base_logits = logits_of(model, ids)
    if name in RESCALED_BASE:
        with torch.no_grad():
            model.get_input_embeddings().weight.mul_(RESCALED_BASE[name])
    with warnings.catch_warnings(record=True) as inject:
        warnings.simplefilter("always")
        pm = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **kwargs))
    randomise(pm, seed)
    pm.eval()
    logits = logits_of(pm, ids)
    assert (logits - base_logits).abs().max() > 1e-2, f"{name}: adapter changes nothing"
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    pm.peft_config["default"].base_model_name_or_path = f"fixtures/{base}"
    with warnings.catch_warnings(record=True) as save:
        warnings.simplefilter("always")
        pm.save_pretrained(out)
    (out / "README.md").unlink(missing_ok=True)
    with warnings.catch_warnings(record=True) as load:
        warnings.simplefilter("always")
        again = PeftModel.from_pretrained(load_base(base), out)
    assert torch.allclose(logits_of(again, ids), logits, rtol=0, atol=1e-6), f"{name}: reload differs"
    with warnings.catch_warnings(record=True) as merge:
        warnings.simplefilter("always")
        merged = pm.merge_and_unload()
    merged_logits = logits_of(merged, ids)
    ref = {
        "generator": generator() | {"script": "tools/parity/peft/make_peft_features.py"},
        "base": base,
        "input_ids": ids,
        "logits_shape": list(logits.shape),
        "logits": flat(logits),
        "warnings": {
            "inject": peft_warnings(inject),
            "save": peft_warnings(save),
            "load": peft_warnings(load),
            "merge": peft_warnings(merge),
        },
        "merged_logits_max_abs_diff": float((merged_logits - logits).abs().max()),
        "base_logits_max_abs_diff": float((base_logits - logits).abs().max()),
    }
    (out / "reference.json").write_text(json.dumps(ref))
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{name}: {size} bytes, merged diff {ref['merged_logits_max_abs_diff']:.2e}, warnings {ref['warnings']}")


def from_lora(name: str, base: str) -> None:
    folder = OUT / "from-lora" / name
    ids = input_ids(base)
    with warnings.catch_warnings(record=True) as load:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(load_base(base), folder)
    model.eval()
    logits = logits_of(model, ids)
    base_logits = logits_of(load_base(base), ids)
    assert (logits - base_logits).abs().max() > 1e-2, f"{name}: adapter changes nothing"
    ref = {
        "generator": generator() | {"script": "tools/parity/peft/make_peft_features.py"},
        "base": base,
        "input_ids": ids,
        "logits_shape": list(logits.shape),
        "logits": flat(logits),
        "warnings": {"load": peft_warnings(load)},
    }
    (folder / "reference.json").write_text(json.dumps(ref))
    print(f"from-lora/{name}: PEFT logits written, load warnings {ref['warnings']['load']}")


def main(argv: list[str]) -> None:
    if argv[:1] == ["from-lora"]:
        for name, base in FROM_LORA.items():
            if len(argv) > 1 and name not in argv[1:]:
                continue
            from_lora(name, base)
        return
    if not argv or "tiny-llama-bias" in argv:
        make_bias_base()
    for name, (base, kwargs, seed) in CASES.items():
        if argv and name not in argv:
            continue
        make_case(name, base, kwargs, seed)


if __name__ == "__main__":
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"})
    main(sys.argv[1:])
