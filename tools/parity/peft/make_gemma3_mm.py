"""PEFT adapters on a Gemma3ForConditionalGeneration (fixtures/tiny-gemma3-mm: tiny text decoder +
tiny SigLIP vision tower), both directions, for @lora/peft.

Regenerate (from the repository root):

    /opt/parity/bin/python tools/parity/peft/make_gemma3_mm.py            # PEFT -> @lora cases
    /opt/parity/bin/python tools/parity/peft/make_gemma3_mm.py from-lora  # PEFT's logits for @lora's adapter
    /opt/parity/bin/python tools/parity/peft/make_gemma3_mm.py merged DIR # check a saveMergedModel folder

PEFT -> @lora: get_peft_model WITHOUT a task type (so save_pretrained writes `auto_mapping` with
base_model_class Gemma3ForConditionalGeneration, as for gemma-3-4b-it), lora_A / lora_B (and DoRA
magnitudes) random and non-zero, save into fixtures/peft/<case>/ with reference.json (text-only
logits). PEFT keys the decoder's tensors `base_model.model.model.language_model.layers.N…` and, since
`q_proj` etc. also name SigLIP modules, adapts the vision tower too: those tensors are in the file.

@lora -> PEFT: fixtures/peft/from-lora/gemma3-mm/ is written by packages/peft/src/parity.test.ts
(LORA_WRITE_FIXTURES=1); this loads it with PeftModel.from_pretrained, fails on any missing /
unexpected adapter key warning (an adapter under the wrong prefix loads as a silent no-op in PEFT),
and writes PEFT's logits to reference.json.

merged DIR: loads a folder written by @lora's saveMergedModel (LORA_WRITE_FIXTURES=1 writes one to
$TMPDIR/lora-gemma3-mm-merged) with Gemma3ForConditionalGeneration.from_pretrained, and compares its
logits with PEFT's adapter logits from from-lora/gemma3-mm/reference.json.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import Gemma3ForConditionalGeneration

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_peft import FIXTURES, OUT, flat, generator, input_ids, logits_of, randomise  # noqa: E402

BASE = "tiny-gemma3-mm"
CASES: dict[str, tuple[dict, int]] = {
    "gemma3-mm-lora": (dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]), 21),
    "gemma3-mm-dora-all-linear": (dict(r=4, lora_alpha=16, use_dora=True, use_rslora=True, target_modules="all-linear"), 22),
}


def load_base() -> Gemma3ForConditionalGeneration:
    return Gemma3ForConditionalGeneration.from_pretrained(FIXTURES / BASE, dtype=torch.float32, attn_implementation="eager").eval()


def load_quietly(folder: Path) -> PeftModel:
    """PeftModel.from_pretrained, failing on PEFT's missing / unexpected adapter key warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = PeftModel.from_pretrained(load_base(), folder).eval()
    bad = [str(w.message) for w in caught if "adapter keys" in str(w.message)]
    assert not bad, f"{folder}: {bad[0][:400]}"
    return model


def make_case(name: str, kwargs: dict, seed: int) -> None:
    torch.manual_seed(seed)
    ids = input_ids(BASE)
    model = load_base()
    base_logits = logits_of(model, ids)
    pm = get_peft_model(model, LoraConfig(**kwargs))  # no task_type: auto_mapping is written
    randomise(pm, seed)
    pm.eval()
    logits = logits_of(pm, ids)
    assert (logits - base_logits).abs().max() > 1e-2, f"{name}: adapter changes nothing"
    out = OUT / name
    out.mkdir(parents=True, exist_ok=True)
    pm.peft_config["default"].base_model_name_or_path = f"fixtures/{BASE}"
    pm.save_pretrained(out)
    (out / "README.md").unlink(missing_ok=True)
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["auto_mapping"]["base_model_class"] == "Gemma3ForConditionalGeneration", config["auto_mapping"]
    again = load_quietly(out)
    assert torch.allclose(logits_of(again, ids), logits, rtol=0, atol=1e-6), f"{name}: reload differs"
    with torch.no_grad():
        keys = sorted(again.state_dict().keys())
        # PEFT's own float32 rounding error (against float64): large DoRA/rsLoRA scalings reach 3e-5.
        f64 = again.double()(torch.tensor(ids)).logits
        f32_error = float((f64 - logits.double()).abs().max())
    vision = [k for k in keys if "vision_tower" in k and "lora_" in k]
    ref = {
        "generator": {**generator(), "script": "tools/parity/peft/make_gemma3_mm.py"},
        "base": BASE,
        "input_ids": ids,
        "logits_shape": list(logits.shape),
        "logits": flat(logits),
        "base_logits_max_abs_diff": float((base_logits - logits).abs().max()),
        "vision_tower_lora_parameters": len(vision),
        "peft_float32_vs_float64_max_abs": f32_error,
    }
    (out / "reference.json").write_text(json.dumps(ref))
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"{name}: {size} bytes, {len(vision)} vision-tower LoRA parameters, adapter moves logits by {ref['base_logits_max_abs_diff']:.3f}, PEFT f32 vs f64 {f32_error:.2e}")


def from_lora() -> None:
    folder = OUT / "from-lora" / "gemma3-mm"
    ids = input_ids(BASE)
    model = load_quietly(folder)
    logits = logits_of(model, ids)
    base_logits = logits_of(load_base(), ids)
    moved = float((logits - base_logits).abs().max())
    assert moved > 1e-2, "from-lora/gemma3-mm: adapter changes nothing in PEFT"
    ref = {"generator": {**generator(), "script": "tools/parity/peft/make_gemma3_mm.py"}, "base": BASE, "input_ids": ids, "logits_shape": list(logits.shape), "logits": flat(logits)}
    (folder / "reference.json").write_text(json.dumps(ref))
    print(f"from-lora/gemma3-mm: PEFT logits written (adapter moves logits by {moved:.3f})")


def merged(folder: Path) -> None:
    ref = json.loads((OUT / "from-lora" / "gemma3-mm" / "reference.json").read_text())
    model = Gemma3ForConditionalGeneration.from_pretrained(folder, dtype=torch.float32, attn_implementation="eager").eval()
    logits = logits_of(model, ref["input_ids"])
    diff = float((logits.reshape(-1) - torch.tensor(ref["logits"])).abs().max())
    print(f"merged {folder}: transformers logits vs PEFT adapter logits max abs diff {diff:.2e}")
    assert diff < 1e-4


def main(argv: list[str]) -> None:
    if argv[:1] == ["from-lora"]:
        from_lora()
    elif argv[:1] == ["merged"]:
        merged(Path(argv[1]))
    else:
        for name, (kwargs, seed) in CASES.items():
            make_case(name, kwargs, seed)


if __name__ == "__main__":
    main(sys.argv[1:])
